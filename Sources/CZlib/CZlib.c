#include "CZlib.h"
#include <string.h>
#include <zlib.h>

size_t czlib_gzip_bound(size_t length) {
    // deflateBound for the default window and memory level, plus the gzip header and trailer (18 bytes).
    return length + (length >> 12) + (length >> 14) + (length >> 25) + 13 + 18;
}

size_t czlib_gzip(const uint8_t *input, size_t length, uint8_t *output, size_t capacity, int level) {
    z_stream stream;
    memset(&stream, 0, sizeof(stream));
    // 15 + 16: a 32 KiB window with a gzip wrapper.
    if (deflateInit2(&stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return 0;
    stream.next_in = (Bytef *)input;
    stream.avail_in = (uInt)length;
    stream.next_out = output;
    stream.avail_out = (uInt)capacity;
    int result = deflate(&stream, Z_FINISH);
    size_t written = stream.total_out;
    deflateEnd(&stream);
    return result == Z_STREAM_END ? written : 0;
}
