import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// One HTTP/2 connection to an upstream server (`protocol = h2`), shared by the requests of one event loop's pool:
/// each request is a stream, whose pipeline (`HTTP2FramePayloadToHTTP1ClientCodec`, then an `UpstreamConnection`)
/// looks to the proxy like an HTTP/1.1 connection used once. Prior knowledge on plain TCP, ALPN `h2` with TLS.
///
/// Opened on the first request; requests that arrive while it connects wait for it. When it closes (the server's
/// GOAWAY, an error), its streams fail (and are retried like closed connections) and the next request opens a new
/// one.
final class HTTP2Session {
    private enum State {
        case idle
        case connecting([(UpstreamConnection, (Result<Void, PoolError>) -> Void)])
        case ready(NIOHTTP2Handler.StreamMultiplexer, any Channel)
    }

    private let eventLoop: any EventLoop
    private let target: UpstreamTarget
    private let settings: PoolSettings
    private var state = State.idle

    init(eventLoop: any EventLoop, target: UpstreamTarget, settings: PoolSettings) {
        self.eventLoop = eventLoop
        self.target = target
        self.settings = settings
    }

    /// Opens a stream for `connection` (its handler goes at the end of the stream's pipeline).
    func openStream(for connection: UpstreamConnection, _ done: @escaping (Result<Void, PoolError>) -> Void) {
        switch state {
        case .ready(let multiplexer, _):
            createStream(multiplexer, connection, done)
        case .connecting(var waiting):
            waiting.append((connection, done))
            state = .connecting(waiting)
        case .idle:
            state = .connecting([(connection, done)])
            connect()
        }
    }

    /// Closes the connection (after a reload retired the server).
    func close() {
        switch state {
        case .ready(_, let channel): channel.close(promise: nil)
        case .connecting(let waiting): for (_, done) in waiting { done(.failure(.closed)) }
        case .idle: break
        }
        state = .idle
    }

    /// The server sent GOAWAY on `channel`: no new stream goes there (the streams it still serves finish); the next
    /// request opens a new connection.
    func goingAway(_ channel: any Channel) {
        if case .ready(_, let current) = state, current === channel { state = .idle }
    }

    private func createStream(
        _ multiplexer: NIOHTTP2Handler.StreamMultiplexer, _ connection: UpstreamConnection,
        _ done: @escaping (Result<Void, PoolError>) -> Void
    ) {
        let bound = NIOLoopBound(connection, eventLoop: eventLoop)
        let secure = settings.tls != nil
        let promise = eventLoop.makePromise(of: (any Channel).self)
        multiplexer.createStreamChannel(promise: promise) { stream in
            stream.eventLoop.makeCompletedFuture {
                try stream.pipeline.syncOperations.addHandler(
                    HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: secure ? .https : .http))
                try stream.pipeline.syncOperations.addHandler(bound.value)
            }
        }
        promise.futureResult.assumeIsolated().whenComplete { result in
            switch result {
            case .success: done(.success(()))
            case .failure(let error): done(.failure(.connectFailed("HTTP/2 stream: \(error)")))
            }
        }
    }

    private func connect() {
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let bootstrap = target.bootstrap(on: eventLoop, timeout: settings.connectTimeout, tls: settings.tls) { channel in
            var connection = NIOHTTP2Handler.ConnectionConfiguration()
            connection.targetWindowSize = 1 << 20
            var stream = NIOHTTP2Handler.StreamConfiguration()
            stream.targetWindowSize = 1 << 20
            let handler = NIOHTTP2Handler(
                mode: .client, eventLoop: channel.eventLoop, connectionConfiguration: connection,
                streamConfiguration: stream
            ) { pushed in pushed.close() }  // no server push is asked for
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.pipeline.syncOperations.addHandler(GoAwayWatch(session: bound))
        }
        target.connect(bootstrap).assumeIsolated().whenComplete { [self] result in
            guard case .connecting(let waiting) = state else {
                if case .success(let channel) = result { channel.close(promise: nil) }
                return
            }
            switch result {
            case .success(let channel):
                do {
                    let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
                        .syncMultiplexer()
                    state = .ready(multiplexer, channel)
                    channel.closeFuture.assumeIsolated().whenComplete { [self] _ in
                        if case .ready(_, let current) = state, current === channel { state = .idle }
                    }
                    for (connection, done) in waiting { createStream(multiplexer, connection, done) }
                } catch {
                    state = .idle
                    channel.close(promise: nil)
                    for (_, done) in waiting { done(.failure(.connectFailed("\(error)"))) }
                }
            case .failure(let error):
                state = .idle
                for (_, done) in waiting { done(.failure(.connectFailed("\(error)"))) }
            }
        }
    }
}

@available(*, unavailable)
extension HTTP2Session: Sendable {}

/// Tells the session when the server sends GOAWAY (connection-level frames pass the HTTP/2 handler on the way in).
private final class GoAwayWatch: ChannelInboundHandler {
    typealias InboundIn = HTTP2Frame
    private let session: NIOLoopBound<HTTP2Session>

    init(session: NIOLoopBound<HTTP2Session>) { self.session = session }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .goAway = unwrapInboundIn(data).payload { session.value.goingAway(context.channel) }
    }
}
