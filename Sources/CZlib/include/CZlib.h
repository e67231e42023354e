#ifndef CZLIB_H
#define CZLIB_H
#include <stddef.h>
#include <stdint.h>

/// The most bytes `czlib_gzip` can write for `length` input bytes.
size_t czlib_gzip_bound(size_t length);

/// Compresses `input` into `output` as one gzip member (RFC 1952) at `level` (1-9). Returns the bytes written, or 0
/// when zlib failed or `capacity` was too small.
size_t czlib_gzip(const uint8_t *input, size_t length, uint8_t *output, size_t capacity, int level);

/// A gzip member compressed part by part (a streamed answer).
typedef struct czlib_stream czlib_stream;

/// A new stream at `level` (1-9), or NULL when zlib fails.
czlib_stream *czlib_stream_new(int level);

/// The most bytes one `czlib_stream_write` of `length` input bytes can write.
size_t czlib_stream_bound(size_t length);

/// Compresses `input` and flushes it (Z_SYNC_FLUSH: what was given can be decoded now), or with `finish` ends the
/// member (trailer included). Returns the bytes written into `output`, or -1 when zlib failed or `capacity` was short.
long czlib_stream_write(czlib_stream *stream, const uint8_t *input, size_t length, uint8_t *output, size_t capacity,
                        int finish);

void czlib_stream_free(czlib_stream *stream);

#endif
