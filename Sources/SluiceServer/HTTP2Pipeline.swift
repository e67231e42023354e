import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOSSL
import NIOTLS

/// HTTP/2 settings of a listener (`h2_*` in `[server]`).
public struct HTTP2Settings: Sendable, Hashable {
    public var maxConcurrentStreams = 100
    public var initialWindowSize = 65_535
    public var connectionWindowSize = 1 << 20
    public var maxHeaderListSize = 16 * 1024

    public init() {}
}

extension HTTPServer {
    /// HTTP/2 on a connection (after ALPN chose `h2`, or after an h2c preface): NIO's HTTP/2 handler with the limits
    /// below, connection management (GOAWAY on drain, idle connections closed after `idleTimeout`), and per stream
    /// the HTTP/1 codec, `HTTP2RequestAdapter`, `RequestGuard` and the application's handlers, so that a stream runs
    /// the same request path as an HTTP/1.1 request.
    ///
    /// Abuse limits (each closes the connection with GOAWAY and is counted in `ProtocolStats`): 200 resets in 30 s
    /// (rapid reset), 5 CONTINUATION frames in a row, 200 PING/SETTINGS/PRIORITY frames in 30 s, 1 empty DATA frame
    /// in a row, 10,000 unsent control frames (a client that never reads), NIO's glitch count.
    static func configureHTTP2(
        channel: any Channel, configuration: ServerConfiguration, stats: ProtocolStats,
        streamInitializer: @escaping ChildInitializer
    ) throws {
        let settings = configuration.http2
        var connection = NIOHTTP2Handler.ConnectionConfiguration()
        connection.initialSettings = [
            HTTP2Setting(parameter: .maxConcurrentStreams, value: settings.maxConcurrentStreams),
            HTTP2Setting(parameter: .initialWindowSize, value: settings.initialWindowSize),
            HTTP2Setting(parameter: .maxHeaderListSize, value: settings.maxHeaderListSize),
            HTTP2Setting(parameter: .maxFrameSize, value: 1 << 14),
            HTTP2Setting(parameter: .enableConnectProtocol, value: 1),  // RFC 8441: WebSocket over HTTP/2
        ]
        connection.targetWindowSize = settings.connectionWindowSize
        connection.maximumSequentialContinuationFrames = 5
        var stream = NIOHTTP2Handler.StreamConfiguration()
        stream.targetWindowSize = settings.initialWindowSize
        let management = NIOHTTP2ServerConnectionManagementHandler(
            eventLoop: channel.eventLoop,
            configuration: .init(
                maxIdleTime: configuration.idleTimeout, maxAge: nil, maxGraceTime: nil, keepalive: nil))
        let openStreams = HTTP2GoAwayCloser.OpenStreams()
        let http2 = NIOHTTP2Handler(
            mode: .server, eventLoop: channel.eventLoop, connectionConfiguration: connection,
            streamConfiguration: stream, streamDelegate: management.http2StreamDelegate
        ) { streamChannel in
            streamChannel.eventLoop.makeCompletedFuture {
                stats.http2StreamCount.wrappingIncrement(ordering: .relaxed)
                stats.http2StreamsOpenCount.wrappingIncrement(ordering: .relaxed)
                openStreams.count += 1
                streamChannel.closeFuture.assumeIsolated().whenComplete { _ in
                    stats.http2StreamsOpenCount.wrappingDecrement(ordering: .relaxed)
                    openStreams.count -= 1
                }
                let operations = streamChannel.pipeline.syncOperations
                try operations.addHandler(ExtendedConnectAdapter())
                try operations.addHandler(HTTP2FramePayloadToHTTP1ServerCodec())
                try operations.addHandler(HTTP2RequestAdapter())
                try operations.addHandler(RequestGuard(configuration: configuration))
                try streamInitializer(streamChannel)
            }
        }
        stats.http2ConnectionCount.wrappingIncrement(ordering: .relaxed)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(http2)
        try operations.addHandler(HTTP2GoAwayCloser(streams: openStreams))
        try operations.addHandler(management)
        try operations.addHandler(HTTP2AbuseWatch(stats: stats))
        if channel.isActive {
            // Added after ALPN or the h2c preface, on a connection long active: the management handler starts its
            // idle timer in `channelActive`, so it must see one, or a connection that never opens a stream would
            // never be closed.
            try operations.context(handler: http2).fireChannelActive()  // reaches `management` next
        }
    }

    /// TLS on a connection: the current certificates, a handshake counter, then by ALPN HTTP/2 or HTTP/1.1.
    static func configureTLS(
        channel: any Channel, context: NIOSSLContext, configuration: ServerConfiguration, stats: ProtocolStats,
        deadline: Scheduled<Void>, childInitializer: @escaping ChildInitializer
    ) throws {
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(NIOSSLServerHandler(context: context))
        try operations.addHandler(TLSHandshakeWatch(stats: stats))
        try operations.addHandler(
            ApplicationProtocolNegotiationHandler { result, channel in
                deadline.cancel()
                return channel.eventLoop.makeCompletedFuture {
                    if case .negotiated("h2") = result {
                        try configureHTTP2(
                            channel: channel, configuration: configuration, stats: stats,
                            streamInitializer: childInitializer)
                    } else {
                        try configureHTTP(channel: channel, configuration: configuration)
                        try childInitializer(channel)
                    }
                }
            })
    }
}

/// A stream's request arrives as HTTP/2.0 with `host` taken from `:authority`; the checks and the proxy downstream
/// judge it as the HTTP/1.1 request it maps to (RFC 9113 §8.3.1), so that it meets the same rules.
final class HTTP2RequestAdapter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(var head) = unwrapInboundIn(data) else {
            context.fireChannelRead(data)
            return
        }
        head.version = .http1_1
        context.fireChannelRead(wrapInboundOut(.head(head)))
    }
}

/// Counts completed and failed TLS handshakes.
final class TLSHandshakeWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    private let stats: ProtocolStats
    private var done = false

    init(stats: ProtocolStats) { self.stats = stats }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event, !done {
            done = true
            stats.tlsHandshakeCount.wrappingIncrement(ordering: .relaxed)
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            stats.tlsFailureCount.wrappingIncrement(ordering: .relaxed)
        }
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            stats.tlsFailureCount.wrappingIncrement(ordering: .relaxed)
        }
        context.fireChannelInactive()
    }
}

/// Counts the HTTP/2 abuse NIO's handler stopped, by kind, and closes the connection (NIO has sent GOAWAY).
final class HTTP2AbuseWatch: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    private let stats: ProtocolStats

    init(stats: ProtocolStats) { self.stats = stats }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case is NIOHTTP2Errors.ExcessiveRSTFrames: stats.count(.rapidReset)
        case is NIOHTTP2Errors.ExcessiveContinuationFrames: stats.count(.continuationFlood)
        case is NIOHTTP2Errors.ExcessiveControlFrames: stats.count(.controlFrameFlood)
        case is NIOHTTP2Errors.ExcessiveEmptyDataFrames: stats.count(.emptyDataFlood)
        case is NIOHTTP2Errors.ExcessiveOutboundFrameBuffering: stats.count(.outboundBuffering)
        case is NIOHTTP2Errors.ExcessiveNumberOfGlitches, is NIOHTTP2Errors.ExcessiveStreamErrors:
            stats.count(.glitches)
        case is NIOHTTP2Errors.ExcessivelyLargeHeaderBlock: stats.count(.largeHeaders)
        default:
            // A stream's own error (NIO resets that stream): the connection and its other streams go on.
            return
        }
        context.close(promise: nil)
    }
}

/// On an `h2c` listener: a connection that opens with the HTTP/2 preface (`PRI * HTTP/2.0…`, prior knowledge) gets
/// the HTTP/2 pipeline, any other the HTTP/1.1 one. Decides on the first bytes, then removes itself.
final class H2CPrefaceSniffer: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer
    private static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)
    private var buffered: ByteBuffer?
    private let choose: (any Channel, _ http2: Bool) throws -> Void

    init(choose: @escaping (any Channel, _ http2: Bool) throws -> Void) { self.choose = choose }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if var buffered { buffered.writeBuffer(&bytes); bytes = buffered }
        let count = min(bytes.readableBytes, Self.preface.count)
        let head = bytes.getBytes(at: bytes.readerIndex, length: count) ?? []
        guard head == Array(Self.preface[..<count]) else { return decide(context: context, http2: false, bytes) }
        guard count == Self.preface.count else {
            buffered = bytes
            return
        }
        decide(context: context, http2: true, bytes)
    }

    private func decide(context: ChannelHandlerContext, http2: Bool, _ bytes: ByteBuffer) {
        buffered = nil
        do {
            try choose(context.channel, http2)
        } catch {
            context.close(promise: nil)
            return
        }
        context.fireChannelRead(wrapInboundOut(bytes))
        context.pipeline.syncOperations.removeHandler(context: context, promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        buffered = nil
        context.fireChannelInactive()
    }
}
