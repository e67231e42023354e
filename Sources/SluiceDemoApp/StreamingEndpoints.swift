import NIOCore
import NIOHTTP1

/// Two endpoints that stream instead of buffering, for testing proxies with large bodies in bounded memory:
/// `GET /bytes/N` answers N bytes (`N` may end in k, m or g) written as the connection can take them (with
/// `?text=1` it is `text/plain`, with `?stall=1` it sends half and then nothing more, to test idle timeouts), and
/// `POST /sink` reads a body of any size, keeps none of it, and answers `{"bytes":N}`. Other requests go on to the
/// SluiceWeb engine.
final class StreamingEndpoints: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum Mode {
        case passThrough
        case sink(received: Int, keepAlive: Bool)
        case source(remaining: Int, keepAlive: Bool)
        /// `?stall=1`: sent half the body, and will never send more (for testing idle timeouts).
        case stalled
    }

    private var mode = Mode.passThrough
    /// With `?stall=1`: stop once this many bytes remain (set to half the body when it starts).
    private var stallAfter: Int?
    private static let chunk: ByteBuffer = ByteBuffer(repeating: UInt8(ascii: "x"), count: 64 * 1024)

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        switch (mode, part) {
        case (.passThrough, .head(let head)):
            let path = head.uri.split(separator: "?", maxSplits: 1).first ?? ""
            stallAfter = head.uri.hasSuffix("?stall=1") ? 0 : nil
            if head.method == .POST && path == "/sink" {
                mode = .sink(received: 0, keepAlive: head.isKeepAlive)
            } else if head.method == .GET, path.hasPrefix("/bytes/"), let count = Self.size(path.dropFirst(7)) {
                mode = .source(remaining: count, keepAlive: head.isKeepAlive)
                if stallAfter != nil { stallAfter = count / 2 }
                var headers = HTTPHeaders()
                let text = head.uri.contains("text=1")
                headers.add(name: "content-type", value: text ? "text/plain" : "application/octet-stream")
                headers.add(name: "content-length", value: String(count))
                if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: .ok, headers: headers))), promise: nil)
            } else {
                context.fireChannelRead(data)
            }
        case (.passThrough, _):
            context.fireChannelRead(data)
        case (.sink(let received, let keepAlive), .body(let body)):
            mode = .sink(received: received + body.readableBytes, keepAlive: keepAlive)
        case (.sink(let received, let keepAlive), .end):
            mode = .passThrough
            let text = #"{"bytes":\#(received)}"#
            var headers = HTTPHeaders()
            headers.add(name: "content-type", value: "application/json")
            headers.add(name: "content-length", value: String(text.utf8.count))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            finish(context: context, keepAlive: keepAlive)
        case (.source, .end):
            pump(context: context)
        case (.sink, .head), (.source, _), (.stalled, _):
            break
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if case .source = mode, context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Writes chunks while the connection can take them; resumes on writability.
    private func pump(context: ChannelHandlerContext) {
        while case .source(let remaining, let keepAlive) = mode {
            if let stallAfter, remaining <= stallAfter {
                mode = .stalled
                context.flush()
                return
            }
            if remaining == 0 {
                mode = .passThrough
                finish(context: context, keepAlive: keepAlive)
                return
            }
            guard context.channel.isWritable else {
                context.flush()
                return
            }
            let size = min(remaining, Self.chunk.readableBytes)
            context.write(wrapOutboundOut(.body(.byteBuffer(Self.chunk.getSlice(at: 0, length: size)!))), promise: nil)
            mode = .source(remaining: remaining - size, keepAlive: keepAlive)
        }
    }

    private func finish(context: ChannelHandlerContext, keepAlive: Bool) {
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        }
    }

    static func size(_ text: Substring) -> Int? {
        let units: [Character: Int] = ["k": 1 << 10, "m": 1 << 20, "g": 1 << 30]
        if let last = text.last, let unit = units[last] { return Int(text.dropLast()).map { $0 * unit } }
        return Int(text)
    }
}

@available(*, unavailable)
extension StreamingEndpoints: Sendable {}
