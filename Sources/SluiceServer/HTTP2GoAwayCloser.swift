import NIOCore
import NIOHTTP2

/// Closes an HTTP/2 connection once it has said GOAWAY, or the client closed its sending side, and no stream is
/// left.
///
/// NIO's connection manager, when the connection has been idle for `keepalive_timeout` (or on drain), sends GOAWAY
/// and a PING, and closes only when the PING is acknowledged: a client that never acknowledges (or an attacker)
/// would hold the connection forever. This handler, between `NIOHTTP2Handler` and the manager, sees the GOAWAY go
/// out and from then on closes the connection as soon as no stream is open (checked every `interval`, first after
/// `grace`, which lets a well-behaved client's acknowledgement come first).
final class HTTP2GoAwayCloser: ChannelOutboundHandler, ChannelInboundHandler, RemovableChannelHandler {
    typealias OutboundIn = HTTP2Frame
    typealias OutboundOut = HTTP2Frame
    typealias InboundIn = HTTP2Frame
    typealias InboundOut = HTTP2Frame

    /// The connection's open streams, kept by its stream initializer. Confined to the connection's event loop.
    final class OpenStreams: @unchecked Sendable {
        var count = 0
        init() {}
    }

    static let grace = TimeAmount.seconds(2)
    static let interval = TimeAmount.seconds(1)

    private let streams: OpenStreams
    private var check: Scheduled<Void>?

    init(streams: OpenStreams) { self.streams = streams }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if check == nil, case .goAway = unwrapOutboundIn(data).payload {
            schedule(context: context, in: Self.grace)
        }
        context.write(data, promise: promise)
    }

    private func schedule(context: ChannelHandlerContext, in delay: TimeAmount) {
        check = context.eventLoop.assumeIsolated().scheduleTask(in: delay) { [self] in
            guard context.channel.isActive else { return }
            if streams.count == 0 {
                context.close(promise: nil)
            } else {
                schedule(context: context, in: Self.interval)
            }
        }
    }

    /// The client shut its side (half-closure is allowed on the listener, for HTTP/1.1): HTTP/2 cannot go on
    /// without it (no acknowledgements, no window updates), so the connection closes once its streams are done,
    /// not when the keep-alive timeout finally notices.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed, check == nil {
            schedule(context: context, in: .zero)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }
}
