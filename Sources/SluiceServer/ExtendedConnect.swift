public import NIOCore
import NIOHPACK
import NIOHTTP1
import NIOHTTP2

/// RFC 8441 (WebSocket over HTTP/2): a stream that opens with an extended CONNECT (`:method CONNECT` with
/// `:protocol websocket`) is handed on as the GET it stands for, marked with `ExtendedConnect.marker` (the protocol
/// asked for), so that the request path treats it like an HTTP/1.1 `Upgrade: websocket`; the gateway answers 200
/// once the upstream switched, and then the stream carries the tunnel's bytes as DATA frames
/// (`HTTP2StreamBytes`). A client's own marker field is removed from every other request.
public enum ExtendedConnect {
    /// The field that carries `:protocol` through the HTTP/1-style request path (never sent upstream).
    public static let marker = "sluice-extended-connect"
}

/// First on a stream: rewrites an extended CONNECT into a marked GET; strips a forged marker.
final class ExtendedConnectAdapter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTP2Frame.FramePayload
    typealias InboundOut = HTTP2Frame.FramePayload
    private var seenHeaders = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !seenHeaders, case .headers(var headers) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        seenHeaders = true
        var fields = headers.headers
        var changed = false
        if fields.contains(name: ExtendedConnect.marker) {
            fields.remove(name: ExtendedConnect.marker)
            changed = true
        }
        let method = fields.first(name: ":method")
        if method == "CONNECT", fields.first(name: ":protocol")?.lowercased() == "websocket" {
            fields.remove(name: ":protocol")
            fields.replaceOrAdd(name: ":method", value: "GET")
            fields.add(name: ExtendedConnect.marker, value: "websocket")
            changed = true
        } else if !headers.endStream, let method, ["GET", "HEAD", "DELETE", "TRACE"].contains(method),
            !fields.contains(name: "content-length"), !fields.contains(name: "transfer-encoding")
        {
            // DATA may follow a head that declares no length; NIO's HTTP/1 codec frames a body itself for the other
            // methods, not for these. Say so here, so that the body is framed (chunked) on the way upstream and never
            // reaches an HTTP/1.1 connection unframed.
            fields.add(name: "transfer-encoding", value: "chunked")
            changed = true
        }
        guard changed else {
            context.fireChannelRead(data)
            return
        }
        headers.headers = fields
        context.fireChannelRead(wrapInboundOut(.headers(headers)))
    }
}

/// A stream turned into a byte pipe (after the 200 to an extended CONNECT), behind the stream's HTTP/1 codec: request
/// body parts (DATA frames) in become `ByteBuffer`s and the request's end (END_STREAM) a half-close
/// (`ChannelEvent.inputClosed`); `ByteBuffer`s out become response body parts, and closing the output ends the
/// response (END_STREAM).
final class HTTP2StreamBytes: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = HTTPServerResponsePart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .body(let bytes): context.fireChannelRead(wrapInboundOut(bytes))
        case .end: context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        case .head: break
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        context.write(wrapOutboundOut(.body(.byteBuffer(unwrapOutboundIn(data)))), promise: promise)
    }

    func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        guard mode == .output else { return context.close(mode: mode, promise: promise) }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }
}

extension HTTPServer {
    /// Turns an HTTP/2 stream whose request was an extended CONNECT into a byte pipe, once the 200 was written:
    /// the request-path handlers go, `HTTP2StreamBytes` takes their place (the application adds its own after it).
    public static func convertStreamToBytes(_ channel: any Channel) throws {
        removeIfPresent(RequestGuard.self, from: channel)
        removeIfPresent(HTTP2RequestAdapter.self, from: channel)
        try channel.pipeline.syncOperations.addHandler(HTTP2StreamBytes())
    }

    /// Whether `channel` is an HTTP/2 stream set up by `configureHTTP2` (its requests may carry the extended-CONNECT
    /// marker). A pipeline lookup: ask only when the marker is there.
    public static func isHTTP2Stream(_ channel: any Channel) -> Bool {
        (try? channel.pipeline.syncOperations.context(handlerType: ExtendedConnectAdapter.self)) != nil
    }
}
