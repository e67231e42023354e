public import Logging
public import NIOCore
import NIOHTTP1
public import NIOPosix
import NIOConcurrencyHelpers
import Atomics

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An HTTP/1.1 listener: binds, builds each connection's pipeline (codec, `RequestGuard`, then the
/// application's handlers), tracks open connections and drains them on shutdown.
///
/// Requests stay on the event loop that accepted their connection; nothing here hops threads per request.
public final class HTTPServer: Sendable {
    /// Adds the application's handlers to a new connection's pipeline, after the HTTP handlers. Runs on the
    /// connection's event loop: use `channel.pipeline.syncOperations`.
    public typealias ChildInitializer = @Sendable (any Channel) throws -> Void

    public let configuration: ServerConfiguration
    public let group: any EventLoopGroup
    private let logger: Logger
    private let childInitializer: ChildInitializer
    private let connections = ConnectionTracker()
    private let serverChannel = NIOLockedValueBox<(any Channel)?>(nil)
    /// TLS handshakes, HTTP/2 connections, streams and abuse on this listener.
    public let protocolStats = ProtocolStats()

    /// - Parameter group: the event loops; by default NIO's shared group, one loop per core.
    public init(
        configuration: ServerConfiguration,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "sluice.server"),
        childInitializer: @escaping ChildInitializer
    ) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.childInitializer = childInitializer
    }

    /// The bound address once `start()` returned (the real port when the configuration asked for port 0).
    public var localAddress: SocketAddress? { serverChannel.withLockedValue { $0?.localAddress } }

    /// The bound port once `start()` returned.
    public var port: Int? { localAddress?.port }

    /// The number of open client connections.
    public var connectionCount: Int { connections.count }

    /// Connections closed at accept because `maxConnections` were open.
    public var refusedConnections: Int { connections.refusedCount }

    /// Binds the listener. Throws if the address cannot be bound.
    @discardableResult
    public func start() async throws -> SocketAddress {
        let configuration = self.configuration
        let connections = self.connections
        let childInitializer = self.childInitializer
        let stats = self.protocolStats
        var bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: configuration.backlog)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        if configuration.reusePort {
            bootstrap = bootstrap.serverChannelOption(ChannelOptions.socket(SocketOptionLevel(SOL_SOCKET), SO_REUSEPORT), value: 1)
        }
        let channel = try await bootstrap
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.maxMessagesPerRead, value: 16)
            // NIO keeps a connection's last receive buffer for reuse, also while it idles: start at 1 KiB (nginx's
            // client_header_buffer_size) rather than 2 KiB; a connection that reads more grows it (1 KiB less per
            // idle keep-alive connection, measured with scripts/idle-connections).
            .childChannelOption(
                .recvAllocator, value: AdaptiveRecvByteBufferAllocator(minimum: 64, initial: 1024, maximum: 65536))
            .childChannelOption(.allowRemoteHalfClosure, value: configuration.allowHalfClosure)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if configuration.maxConnections > 0 && connections.count >= configuration.maxConnections {
                        connections.refused()
                        throw ConnectionLimitReached()
                    }
                    connections.add(channel)
                    switch configuration.transport {
                    case .plain:
                        try Self.configureHTTP(channel: channel, configuration: configuration)
                        try childInitializer(channel)
                    case .tls(let context):
                        let deadline = Self.closeUndecided(channel, after: configuration.requestReadTimeout)
                        try Self.configureTLS(
                            channel: channel, context: context(), configuration: configuration, stats: stats,
                            deadline: deadline, childInitializer: childInitializer)
                    case .h2c:
                        let deadline = Self.closeUndecided(channel, after: configuration.requestReadTimeout)
                        try channel.pipeline.syncOperations.addHandler(
                            H2CPrefaceSniffer { channel, http2 in
                                deadline.cancel()
                                if http2 {
                                    try Self.configureHTTP2(
                                        channel: channel, configuration: configuration, stats: stats,
                                        streamInitializer: childInitializer)
                                } else {
                                    try Self.configureHTTP(channel: channel, configuration: configuration)
                                    try childInitializer(channel)
                                }
                            })
                    }
                }
            }
            .bind(host: configuration.host, port: configuration.port)
            .get()
        serverChannel.withLockedValue { $0 = channel }
        let address = channel.localAddress!
        logger.info("listening", metadata: ["address": "\(address)"])
        return address
    }

    /// Closes `channel` if it has not chosen its protocol (TLS handshake and ALPN, or the h2c preface) within
    /// `timeout`: a silent or half-sent opening never holds a connection slot (the HTTP timers start only after it).
    static func closeUndecided(_ channel: any Channel, after timeout: TimeAmount) -> Scheduled<Void> {
        let scheduled = channel.eventLoop.scheduleTask(in: timeout) { channel.close(promise: nil) }
        channel.closeFuture.whenComplete { _ in scheduled.cancel() }  // a closed connection holds no timer
        return scheduled
    }

    /// Adds the HTTP/1.1 handlers every Sluice connection has: NIO's parser (in a `RearmingRequestDecoder`, so an
    /// upgrade request never freezes the connection), then the `RequestGuard` with the configured limits, which
    /// also takes pipelined requests one at a time and writes the answers' bytes itself (`ResponseEncoding`; with
    /// `validateOutboundHeaders`, a head with a field that could split it becomes a 500). One handler between the
    /// parser and the application, so each request and response part makes one hop. Public so that tests can
    /// build the same pipeline on an `EmbeddedChannel`.
    public static func configureHTTP(channel: any Channel, configuration: ServerConfiguration) throws {
        var limits = NIOHTTPDecoderLimitConfiguration()
        limits.maxHeaderListSize = configuration.maxHeadSize
        limits.maxHeaderFieldSize = configuration.maxHeadSize
        let signal = RearmingRequestDecoder.Signal()
        // Unparsed bytes never exceed a head plus what one read brings: past that the client is out of step.
        let decoder = RearmingRequestDecoder(
            limits: limits, bufferLimit: configuration.maxHeadSize + 256 * 1024, signal: signal)
        let operations = channel.pipeline.syncOperations
        try operations.addHandler(ByteToMessageHandler(decoder))
        // Limits, timers and framing; on this connection also pipelining, read-ahead and the decoder's signal.
        try operations.addHandler(RequestGuard(configuration: configuration, decoderSignal: signal))
    }

    /// Stops accepting, lets in-flight requests finish (idle keep-alive connections close at once, busy ones after
    /// their current answer), and closes whatever is still open after `gracePeriod`.
    public func shutdown(gracePeriod: TimeAmount = .seconds(10)) async {
        guard let channel = serverChannel.withLockedValue({ $0 }) else { return }
        try? await channel.close()
        let open = connections.count
        logger.info("draining", metadata: ["connections": "\(open)", "grace": "\(gracePeriod)"])
        let drained = connections.drain(on: channel.eventLoop)
        let force = channel.eventLoop.scheduleTask(in: gracePeriod) { [connections] in
            connections.closeAll()
        }
        try? await drained.get()
        force.cancel()
        logger.info("stopped")
    }
}

/// Thrown from a new connection's initializer when the server is full; NIO closes the connection.
struct ConnectionLimitReached: Error {}

/// The open connections of one server, so that shutdown can tell them to finish and wait for them.
final class ConnectionTracker: Sendable {
    private struct State {
        var channels: [ObjectIdentifier: any Channel] = [:]
        var drained: EventLoopPromise<Void>?
    }

    private let state = NIOLockedValueBox(State())
    private let refusals = ManagedAtomic(0)

    var refusedCount: Int { refusals.load(ordering: .relaxed) }

    func refused() { refusals.wrappingIncrement(ordering: .relaxed) }

    var count: Int { state.withLockedValue { $0.channels.count } }

    func add(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        state.withLockedValue { $0.channels[id] = channel }
        channel.closeFuture.whenComplete { [self] _ in
            let drained = state.withLockedValue { state -> EventLoopPromise<Void>? in
                state.channels[id] = nil
                return state.channels.isEmpty ? state.drained : nil
            }
            drained?.succeed()
        }
    }

    /// Sends every connection `ChannelShouldQuiesceEvent`; the future completes when the last one has closed.
    func drain(on eventLoop: any EventLoop) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        let channels = state.withLockedValue { state -> [any Channel] in
            state.drained = promise
            return Array(state.channels.values)
        }
        if channels.isEmpty { promise.succeed() }
        for channel in channels {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
        return promise.futureResult
    }

    func closeAll() {
        for channel in state.withLockedValue({ Array($0.channels.values) }) { channel.close(promise: nil) }
    }
}

extension HTTPServer {
    /// Takes the HTTP/1.1 handlers `configureHTTP` added off a connection (after a `101 Switching Protocols` was
    /// written), so that the application can pass its bytes through as they are. Handlers the application added
    /// after them are its own to remove. Bytes the parser had not used yet are passed on as a `ByteBuffer`.
    public static func removeHTTPHandlers(from channel: any Channel) throws {
        removeIfPresent(RequestGuard.self, from: channel)
        removeIfPresent(ByteToMessageHandler<RearmingRequestDecoder>.self, from: channel)
    }

    /// Removes the handler of `type` from `channel`'s pipeline, if there is one.
    static func removeIfPresent<Handler: RemovableChannelHandler>(_ type: Handler.Type, from channel: any Channel) {
        let operations = channel.pipeline.syncOperations
        if let context = try? operations.context(handlerType: type) {
            operations.removeHandler(context: context, promise: nil)
        }
    }
}
