import CZlib
import NIOCore
import NIOHTTP1

/// Compresses answers with gzip when the client accepts it (nginx's `gzip on`): a buffered body of at least
/// `minLength` bytes whose type is in `types` (a type prefix, `text/` matches every text type) and that carries no
/// `Content-Encoding` yet. Eligible answers get `Vary: Accept-Encoding` whether or not this client accepts gzip; a
/// strong `ETag` becomes weak. Streamed answers (`c.stream`, not server-sent events) are compressed part by part, each
/// part flushed so the client can decode it at once. Files are sent as they are (sendfile).
public func Gzip(
    minLength: Int = 256, level: Int32 = 5,
    types: [String] = ["text/", "application/json", "application/javascript", "application/xml", "image/svg+xml"]
) -> Handler {
    let policy = GzipPolicy(minLength: minLength, level: level, types: types)
    return { c in
        c.gzip = policy
        try c.next()
    }
}

/// What `Gzip` asked for; applied by the connection when it sends the answer.
struct GzipPolicy: Sendable {
    let minLength: Int
    let level: Int32
    let types: [String]

    func compresses(contentType: String?) -> Bool {
        guard let contentType = contentType?.lowercased() else { return false }
        return types.contains { contentType.hasPrefix($0) }
    }

    /// Whether an `Accept-Encoding` value accepts gzip (a `q=0` refuses it; `*` accepts it unless gzip is refused).
    static func accepts(_ values: [String]) -> Bool {
        var star = false
        for value in values {
            for item in value.split(separator: ",") {
                let parts = item.split(separator: ";")
                guard let coding = parts.first.map({ trim($0).lowercased() }) else { continue }
                let refused = parts.dropFirst().contains { parameter in
                    let pair = parameter.split(separator: "=", maxSplits: 1).map { trim($0).lowercased() }
                    return pair.count == 2 && pair[0] == "q" && (Double(pair[1]) ?? 1) == 0
                }
                if coding == "gzip" || coding == "x-gzip" { return !refused }
                if coding == "*" { star = !refused }
            }
        }
        return star
    }
}

private func trim(_ text: Substring) -> Substring {
    var text = text
    while text.first == " " || text.first == "\t" { text.removeFirst() }
    while text.last == " " || text.last == "\t" { text.removeLast() }
    return text
}

/// One streamed answer's gzip member (`CZlib`'s deflate stream).
final class GzipStream {
    private let stream: OpaquePointer

    init?(level: Int32) {
        guard let stream = czlib_stream_new(level) else { return nil }
        self.stream = stream
    }

    deinit { czlib_stream_free(stream) }

    /// `part` compressed and flushed, or with `finish` the member's end; nil when zlib failed.
    func compress(_ part: ByteBuffer, finish: Bool, allocator: ByteBufferAllocator) -> ByteBuffer? {
        let length = part.readableBytes
        var output = allocator.buffer(capacity: czlib_stream_bound(length))
        let written = part.withUnsafeReadableBytes { input in
            output.withUnsafeMutableWritableBytes { out in
                czlib_stream_write(
                    stream, input.baseAddress?.assumingMemoryBound(to: UInt8.self), length,
                    out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count, finish ? 1 : 0)
            }
        }
        guard written >= 0 else { return nil }
        output.moveWriterIndex(forwardBy: written)
        return output
    }
}

extension Context {
    /// Starts compressing a streamed answer if `Gzip` asked for it and the answer and the client allow it (the rules
    /// of `compressIfAsked`, without the length, which a stream does not know). Server-sent events are left alone.
    func startStreamCompressionIfAsked() {
        guard let policy = gzip, responseStatus.mayHaveResponseBody,
            !responseHeaders.contains(name: "content-encoding"),
            let type = responseHeaders.first(name: "content-type"), policy.compresses(contentType: type),
            !type.lowercased().hasPrefix("text/event-stream"),
            !responseHeaders[canonicalForm: "cache-control"].contains(where: { $0.lowercased() == "no-transform" })
        else { return }
        if !responseHeaders[canonicalForm: "vary"].contains(where: { $0.lowercased() == "accept-encoding" || $0 == "*" }) {
            responseHeaders.add(name: "vary", value: "Accept-Encoding")
        }
        guard GzipPolicy.accepts(headers[canonicalForm: "accept-encoding"].map(String.init)),
            let stream = GzipStream(level: policy.level)
        else { return }
        gzipStream = stream
        responseHeaders.add(name: "content-encoding", value: "gzip")
    }

    /// Compresses the buffered answer if `Gzip` asked for it and the answer and the client allow it. Just before
    /// the answer is written.
    func compressIfAsked() {
        guard let policy = gzip, responseFile == nil, let body = responseBody, body.readableBytes >= policy.minLength,
            responseStatus.mayHaveResponseBody, responseStatus.code != 206,
            !responseHeaders.contains(name: "content-encoding"),
            policy.compresses(contentType: responseHeaders.first(name: "content-type")),
            !responseHeaders[canonicalForm: "cache-control"].contains(where: { $0.lowercased() == "no-transform" })
        else { return }
        if !responseHeaders[canonicalForm: "vary"].contains(where: { $0.lowercased() == "accept-encoding" || $0 == "*" }) {
            responseHeaders.add(name: "vary", value: "Accept-Encoding")
        }
        guard GzipPolicy.accepts(headers[canonicalForm: "accept-encoding"].map(String.init)) else { return }
        let length = body.readableBytes
        var output = allocator.buffer(capacity: czlib_gzip_bound(length))
        let written = body.withUnsafeReadableBytes { input in
            output.withUnsafeMutableWritableBytes { out in
                czlib_gzip(
                    input.baseAddress?.assumingMemoryBound(to: UInt8.self), length,
                    out.baseAddress?.assumingMemoryBound(to: UInt8.self), out.count, policy.level)
            }
        }
        guard written > 0, written < length else { return }
        output.moveWriterIndex(forwardBy: written)
        responseBody = output
        responseHeaders.add(name: "content-encoding", value: "gzip")
        // The encoded representation is a different one: a strong validator would claim byte equality.
        if let etag = responseHeaders.first(name: "etag"), etag.hasPrefix("\"") {
            responseHeaders.replaceOrAdd(name: "etag", value: "W/" + etag)
        }
    }
}
