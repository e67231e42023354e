import NIOCore
import NIOHTTP1

/// Writes an HTTP/1.1 response as bytes (RFC 9112 §4–§7): the status line and fields of a head `ResponseFraming`
/// has already framed, chunk framing, and the last chunk with trailers. What NIO's `HTTPResponseEncoder` does,
/// done inside `RequestGuard` so that a response crosses no further handler, and so that a small answer's head
/// and body go out as one buffer.
enum ResponseEncoding {
    /// The status line and the fields, through the empty line that ends the head. A server answers in its own
    /// version (RFC 9110 §6.2), whatever the head says.
    static func writeHead(_ head: HTTPResponseHead, added: AddedFields? = nil, into buffer: inout ByteBuffer) {
        writeStatusLine(head.status, into: &buffer)
        writeFields(head.headers, into: &buffer)
        if let added { write(added, status: head.status, into: &buffer) }
        buffer.writeStaticString("\r\n")
    }

    /// The fields a handler right after the guard leaves for the guard to write (`RequestGuard.writeHeadFromNext`):
    /// writing them as bytes costs less than adding them to the head's `HTTPHeaders` first.
    struct AddedFields {
        /// `content-length`; not written where a status has no body framing (1xx, 204).
        var contentLength: Int?
        /// `date`, as `HTTPDate` writes it.
        var date: String
    }

    private static func write(_ added: AddedFields, status: HTTPResponseStatus, into buffer: inout ByteBuffer) {
        if let length = added.contentLength, status.code >= 200, status.code != 204 {
            buffer.writeStaticString("content-length: ")
            buffer.writeString(String(length))
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("date: ")
        buffer.writeString(added.date)
        buffer.writeStaticString("\r\n")
    }

    /// `name: value` CRLF for each field, copied in one pass into space reserved once.
    static func writeFields(_ headers: HTTPHeaders, into buffer: inout ByteBuffer) {
        var size = 0
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { space in
            var at = 0
            for (name, value) in headers {
                at = put(name, into: space, at: at)
                space[at] = UInt8(ascii: ":")
                space[at + 1] = UInt8(ascii: " ")
                at = put(value, into: space, at: at + 2)
                space[at] = UInt8(ascii: "\r")
                space[at + 1] = UInt8(ascii: "\n")
                at += 2
            }
            return at
        }
    }

    /// Copies `text`'s UTF-8 into `space` at `at`; returns where it ended.
    @inline(__always)
    private static func put(_ text: String, into space: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        let copied = text.utf8.withContiguousStorageIfAvailable { bytes in
            UnsafeMutableRawBufferPointer(rebasing: space[at..<at + bytes.count]).copyMemory(from: UnsafeRawBufferPointer(bytes))
            return at + bytes.count
        }
        if let copied { return copied }
        var end = at
        for byte in text.utf8 {
            space[end] = byte
            end += 1
        }
        return end
    }

    static func writeStatusLine(_ status: HTTPResponseStatus, into buffer: inout ByteBuffer) {
        switch status {
        case .ok: buffer.writeStaticString("HTTP/1.1 200 OK\r\n")
        case .created: buffer.writeStaticString("HTTP/1.1 201 Created\r\n")
        case .noContent: buffer.writeStaticString("HTTP/1.1 204 No Content\r\n")
        case .notModified: buffer.writeStaticString("HTTP/1.1 304 Not Modified\r\n")
        case .badRequest: buffer.writeStaticString("HTTP/1.1 400 Bad Request\r\n")
        case .notFound: buffer.writeStaticString("HTTP/1.1 404 Not Found\r\n")
        case .tooManyRequests: buffer.writeStaticString("HTTP/1.1 429 Too Many Requests\r\n")
        case .continue: buffer.writeStaticString("HTTP/1.1 100 Continue\r\n")
        default:
            buffer.writeStaticString("HTTP/1.1 ")
            buffer.writeString(String(status.code))
            buffer.writeStaticString(" ")
            // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ): a custom phrase never ends or splits the head.
            for byte in status.reasonPhrase.utf8 where byte == 0x09 || (byte >= 0x20 && byte != 0x7F) {
                buffer.writeInteger(byte)
            }
            buffer.writeStaticString("\r\n")
        }
    }

    /// A chunk's size line (RFC 9112 §7.1); the chunk's data and a CRLF follow it.
    static func writeChunkSize(_ size: Int, into buffer: inout ByteBuffer) {
        buffer.writeString(String(size, radix: 16))
        buffer.writeStaticString("\r\n")
    }

    /// The last chunk, the trailer fields and the empty line that end a chunked body.
    static func writeLastChunk(trailers: HTTPHeaders?, into buffer: inout ByteBuffer) {
        buffer.writeStaticString("0\r\n")
        if let trailers { writeFields(trailers, into: &buffer) }
        buffer.writeStaticString("\r\n")
    }
}
