import NIOCore
import NIOHTTP1

/// Writes an HTTP/1.1 response as bytes (RFC 9112 §4–§7): the status line and fields of a head `ResponseFraming`
/// has already framed, chunk framing, and the last chunk with trailers. What NIO's `HTTPResponseEncoder` does,
/// done inside `RequestGuard` so that a response crosses no further handler, and so that a small answer's head
/// and body go out as one buffer.
///
/// A head is measured first and then copied in one pass into space reserved once: each separate `ByteBuffer`
/// write costs a few hundred instructions of bounds, uniqueness and exclusivity checks, more than the copy itself.
enum ResponseEncoding {
    /// The status line and the fields, through the empty line that ends the head. A server answers in its own
    /// version (RFC 9110 §6.2), whatever the head says.
    static func writeHead(_ head: HTTPResponseHead, added: AddedFields? = nil, into buffer: inout ByteBuffer) {
        writeHead(status: head.status, headers: head.headers, added: added, into: &buffer)
    }

    /// `writeHead` on a head's parts.
    static func writeHead(
        status: HTTPResponseStatus, headers: HTTPHeaders, added: AddedFields? = nil, into buffer: inout ByteBuffer
    ) {
        let statusLine = StatusLine(status)
        let length = added.flatMap { status.code >= 200 && status.code != 204 ? $0.contentLength : nil }
        var size = statusLine.size + fieldsSize(headers) + 2
        if let length { size += 18 + digitCount(length) }
        if let added { size += 8 + added.date.utf8.count }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: size) { space in
            var at = statusLine.put(into: space)
            at = putFields(headers, into: space, at: at)
            if let length {
                at = put("content-length: ", into: space, at: at)
                at = putDecimal(length, into: space, at: at)
                at = putCRLF(into: space, at: at)
            }
            if let added {
                at = put("date: ", into: space, at: at)
                at = put(added.date, into: space, at: at)
                at = putCRLF(into: space, at: at)
            }
            return putCRLF(into: space, at: at)
        }
    }

    /// The fields a handler right after the guard leaves for the guard to write (`RequestGuard.writeHeadFromNext`):
    /// writing them as bytes costs less than adding them to the head's `HTTPHeaders` first.
    struct AddedFields {
        /// `content-length`; not written where a status has no body framing (1xx, 204).
        var contentLength: Int?
        /// `date`, as `HTTPDate` writes it.
        var date: String
    }

    /// A chunk's size line (RFC 9112 §7.1); the chunk's data and a CRLF follow it.
    static func writeChunkSize(_ size: Int, into buffer: inout ByteBuffer) {
        var digits = 1
        while size >> (4 * digits) != 0 { digits += 1 }
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: digits + 2) { space in
            for place in 0..<digits {
                let nibble = UInt8(truncatingIfNeeded: size >> (4 * (digits - 1 - place))) & 0x0F
                space[place] = nibble < 10 ? UInt8(ascii: "0") + nibble : UInt8(ascii: "a") + nibble - 10
            }
            return putCRLF(into: space, at: digits)
        }
    }

    /// The last chunk, the trailer fields and the empty line that end a chunked body.
    static func writeLastChunk(trailers: HTTPHeaders?, into buffer: inout ByteBuffer) {
        let fields = trailers.map(fieldsSize) ?? 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: fields + 5) { space in
            var at = put("0\r\n", into: space, at: 0)
            if let trailers { at = putFields(trailers, into: space, at: at) }
            return putCRLF(into: space, at: at)
        }
    }

    // MARK: Measuring and copying

    private static func fieldsSize(_ headers: HTTPHeaders) -> Int {
        var size = 0
        for (name, value) in headers { size += name.utf8.count + value.utf8.count + 4 }
        return size
    }

    private static func putFields(_ headers: HTTPHeaders, into space: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        var at = at
        for (name, value) in headers {
            at = put(name, into: space, at: at)
            space[at] = UInt8(ascii: ":")
            space[at + 1] = UInt8(ascii: " ")
            at = put(value, into: space, at: at + 2)
            at = putCRLF(into: space, at: at)
        }
        return at
    }

    @inline(__always)
    fileprivate static func putCRLF(into space: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        space[at] = UInt8(ascii: "\r")
        space[at + 1] = UInt8(ascii: "\n")
        return at + 2
    }

    /// Copies `text`'s UTF-8 into `space` at `at`; returns where it ended.
    @inline(__always)
    fileprivate static func put(_ text: String, into space: UnsafeMutableRawBufferPointer, at: Int) -> Int {
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

    @inline(__always)
    fileprivate static func put(_ text: StaticString, into space: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        let count = text.utf8CodeUnitCount
        UnsafeMutableRawBufferPointer(rebasing: space[at..<at + count])
            .copyMemory(from: UnsafeRawBufferPointer(start: text.utf8Start, count: count))
        return at + count
    }

    fileprivate static func digitCount(_ value: Int) -> Int {
        var count = 1
        var rest = value.magnitude / 10
        while rest != 0 {
            count += 1
            rest /= 10
        }
        return count + (value < 0 ? 1 : 0)
    }

    /// `value` in decimal digits; returns where they ended.
    fileprivate static func putDecimal(_ value: Int, into space: UnsafeMutableRawBufferPointer, at: Int) -> Int {
        let end = at + digitCount(value)
        var rest = value.magnitude
        var place = end
        repeat {
            place -= 1
            space[place] = UInt8(ascii: "0") + UInt8(truncatingIfNeeded: rest % 10)
            rest /= 10
        } while rest != 0
        if value < 0 { space[at] = UInt8(ascii: "-") }
        return end
    }

    /// A status line: the common ones as constants, any other built from its code and reason phrase.
    private struct StatusLine {
        private let constant: StaticString?
        private let code: Int
        private let reason: String
        let size: Int

        init(_ status: HTTPResponseStatus) {
            switch status {
            case .ok: constant = "HTTP/1.1 200 OK\r\n"
            case .created: constant = "HTTP/1.1 201 Created\r\n"
            case .noContent: constant = "HTTP/1.1 204 No Content\r\n"
            case .notModified: constant = "HTTP/1.1 304 Not Modified\r\n"
            case .badRequest: constant = "HTTP/1.1 400 Bad Request\r\n"
            case .notFound: constant = "HTTP/1.1 404 Not Found\r\n"
            case .tooManyRequests: constant = "HTTP/1.1 429 Too Many Requests\r\n"
            case .continue: constant = "HTTP/1.1 100 Continue\r\n"
            default: constant = nil
            }
            if let constant {
                code = 0
                reason = ""
                size = constant.utf8CodeUnitCount
            } else {
                code = Int(status.code)
                reason = status.reasonPhrase
                var reasonSize = 0
                // reason-phrase = 1*( HTAB / SP / VCHAR / obs-text), a field value's bytes: a custom phrase never
                // ends or splits the head; other bytes are left out.
                for byte in reason.utf8 where ResponseHeaderCheck.isFieldValueByte(byte) { reasonSize += 1 }
                size = 9 + ResponseEncoding.digitCount(code) + 1 + reasonSize + 2
            }
        }

        func put(into space: UnsafeMutableRawBufferPointer) -> Int {
            if let constant { return ResponseEncoding.put(constant, into: space, at: 0) }
            var at = ResponseEncoding.put("HTTP/1.1 ", into: space, at: 0)
            at = ResponseEncoding.putDecimal(code, into: space, at: at)
            space[at] = UInt8(ascii: " ")
            at += 1
            for byte in reason.utf8 where ResponseHeaderCheck.isFieldValueByte(byte) {
                space[at] = byte
                at += 1
            }
            return ResponseEncoding.putCRLF(into: space, at: at)
        }
    }
}
