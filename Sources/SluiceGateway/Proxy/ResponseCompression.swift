import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import SluiceConfig
import SluiceServer

/// `gzip = on`: which answers a route compresses, and the compressor connections get.
///
/// The route decides per answer (`mark`), where it is known; NIO's `HTTPResponseCompressor`, after the proxy in the
/// pipeline, compresses when the client accepts gzip (or deflate) and the answer carries the mark, streaming: each
/// flush compresses what was written since, so a large answer is never held whole. The mark never reaches a client:
/// the compressor's predicate removes it whatever it decides.
enum ResponseCompression {
    /// The internal mark on an answer to compress.
    static let mark = "x-sluice-compress"

    /// Whether `head`, the answer to a `method` request, is one `config` compresses: a body (not HEAD, 1xx, 204,
    /// 304), not already encoded, no `Cache-Control: no-transform`, a listed type, and no declared length under
    /// the minimum. Eligible answers get `Vary: Accept-Encoding` whether or not this client accepts gzip (a cache
    /// keeps both forms apart).
    static func mark(_ head: inout HTTPResponseHead, method: HTTPMethod, config: CompressionConfig) {
        let code = head.status.code
        guard method != .HEAD, code >= 200, code != 204, code != 304, code != 206 else { return }
        let headers = head.headers
        if let encoding = headers.first(name: "content-encoding"), !encoding.caseInsensitiveEquals("identity") {
            return
        }
        if headers[canonicalForm: "cache-control"].contains(where: { $0.lowercased() == "no-transform" }) { return }
        guard config.compresses(contentType: headers.first(name: "content-type")) else { return }
        if let length = headers.first(name: "content-length").flatMap({ Int($0) }), length < config.minLength {
            return
        }
        let vary = headers[canonicalForm: "vary"]
        if !vary.contains(where: { $0.lowercased() == "accept-encoding" || $0 == "*" }) {
            head.headers.add(name: "vary", value: "Accept-Encoding")
        }
        head.headers.add(name: mark, value: "1")
    }

    /// The compressor for a connection or stream.
    static func compressor() -> HTTPResponseCompressor {
        HTTPResponseCompressor(initialByteBufferCapacity: 0) { head, supported in
            guard head.headers.contains(name: mark) else { return .doNotCompress }
            head.headers.remove(name: mark)
            guard supported else { return .doNotCompress }
            // The encoded representation is a different one: a strong validator would claim byte equality.
            if let etag = head.headers.first(name: "etag"), etag.hasPrefix("\"") {
                head.headers.replaceOrAdd(name: "etag", value: "W/" + etag)
            }
            return .compressIfPossible
        }
    }
}
