#ifndef CZLIB_H
#define CZLIB_H
#include <stddef.h>
#include <stdint.h>

/// The most bytes `czlib_gzip` can write for `length` input bytes.
size_t czlib_gzip_bound(size_t length);

/// Compresses `input` into `output` as one gzip member (RFC 1952) at `level` (1-9). Returns the bytes written, or 0
/// when zlib failed or `capacity` was too small.
size_t czlib_gzip(const uint8_t *input, size_t length, uint8_t *output, size_t capacity, int level);

#endif
