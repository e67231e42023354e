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

    /// The compressor for a connection or stream; `meter` learns which answers it compresses.
    static func compressor(meter: GzipMeter? = nil) -> HTTPResponseCompressor {
        HTTPResponseCompressor(initialByteBufferCapacity: 0) { head, supported in
            guard head.headers.contains(name: mark) else { return .doNotCompress }
            head.headers.remove(name: mark)
            guard supported else { return .doNotCompress }
            meter?.compressing = true
            // The encoded representation is a different one: a strong validator would claim byte equality.
            if let etag = head.headers.first(name: "etag"), etag.hasPrefix("\"") {
                head.headers.replaceOrAdd(name: "etag", value: "W/" + etag)
            }
            return .compressIfPossible
        }
    }
}

/// Before the compressor: a client that accepts gzip gets gzip (as from nginx), not deflate, which NIO's compressor
/// prefers when both have the same weight (`curl --compressed` and browsers send both). `deflate` is taken out of
/// `Accept-Encoding` when gzip is acceptable; the upstream then sees the request without it.
final class PreferGzip: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data), let rewritten = Self.preferGzip(head.headers) else {
            context.fireChannelRead(data)
            return
        }
        head.headers.replaceOrAdd(name: "accept-encoding", value: rewritten)
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }

    /// The `Accept-Encoding` value without `deflate` when it accepts gzip and deflate; nil to leave it.
    static func preferGzip(_ headers: HTTPHeaders) -> String? {
        let items = headers[canonicalForm: "accept-encoding"].map {
            $0.filter { $0 != " " && $0 != "\t" }.lowercased()
        }
        guard items.contains(where: { $0.hasPrefix("deflate") }), let gzip = items.first(where: { $0.hasPrefix("gzip") })
        else { return nil }
        // `gzip;q=0` (or 0.0, 0.00…) refuses gzip.
        if let q = gzip.split(separator: "=").last, gzip.contains("q="), q.allSatisfy({ $0 == "0" || $0 == "." }) {
            return nil
        }
        return items.filter { !$0.hasPrefix("deflate") }.joined(separator: ", ")
    }
}

/// Bytes into and out of gzip, for `sluice_gzip_in_bytes_total` and `sluice_gzip_out_bytes_total`: one meter per
/// connection or stream, read by a handler on each side of the compressor. The compressor marks an answer it
/// compresses; the outer side ends the mark with the answer's end. Confined to the channel's event loop.
final class GzipMeter: @unchecked Sendable {
    var compressing = false
    let stats: GatewayStats
    /// The pipeline names of the outer and inner side.
    static let names = ["sluice-gzip-out", "sluice-gzip-in"]

    init(stats: GatewayStats) { self.stats = stats }

    /// The handlers to put after (`outer`, toward the socket) and before (`inner`) the compressor.
    func handlers() -> (outer: Side, inner: Side) { (Side(meter: self, outer: true), Side(meter: self, outer: false)) }

    final class Side: ChannelOutboundHandler, RemovableChannelHandler {
        typealias OutboundIn = HTTPServerResponsePart
        typealias OutboundOut = HTTPServerResponsePart

        let meter: GzipMeter
        let outer: Bool

        init(meter: GzipMeter, outer: Bool) {
            self.meter = meter
            self.outer = outer
        }

        func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
            if meter.compressing {
                switch unwrapOutboundIn(data) {
                case .body(.byteBuffer(let buffer)):
                    (outer ? meter.stats.gzipOut : meter.stats.gzipIn)
                        .wrappingIncrement(by: buffer.readableBytes, ordering: .relaxed)
                case .end where outer:
                    meter.compressing = false
                default:
                    break
                }
            }
            context.write(data, promise: promise)
        }
    }
}
