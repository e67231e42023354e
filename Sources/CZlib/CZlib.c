#include "CZlib.h"
#include <stdlib.h>
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

struct czlib_stream {
    z_stream z;
};

czlib_stream *czlib_stream_new(int level) {
    czlib_stream *stream = calloc(1, sizeof(czlib_stream));
    if (stream == NULL) return NULL;
    if (deflateInit2(&stream->z, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        free(stream);
        return NULL;
    }
    return stream;
}

size_t czlib_stream_bound(size_t length) {
    // deflateBound's worst case, plus a sync flush's empty block (5 bytes per flush, at most a few) and the header
    // and trailer.
    return length + (length >> 12) + (length >> 14) + (length >> 25) + 13 + 18 + 64;
}

long czlib_stream_write(czlib_stream *stream, const uint8_t *input, size_t length, uint8_t *output, size_t capacity,
                        int finish) {
    stream->z.next_in = (Bytef *)input;
    stream->z.avail_in = (uInt)length;
    stream->z.next_out = output;
    stream->z.avail_out = (uInt)capacity;
    int result = deflate(&stream->z, finish ? Z_FINISH : Z_SYNC_FLUSH);
    if (finish ? result != Z_STREAM_END : (result != Z_OK && result != Z_BUF_ERROR)) return -1;
    // Everything given must have been taken and flushed: a short output buffer is an error, not a partial write.
    if (stream->z.avail_in != 0 || (!finish && stream->z.avail_out == 0)) return -1;
    return (long)(capacity - stream->z.avail_out);
}

void czlib_stream_free(czlib_stream *stream) {
    if (stream == NULL) return;
    deflateEnd(&stream->z);
    free(stream);
}
