import DequeModule
import NIOCore
import NIOHTTP1
import NIOPosix

/// How a pool treats its connections (one upstream's settings).
struct PoolSettings: Hashable, Sendable {
    /// Idle connections kept for reuse; 0 turns keep-alive to this upstream off.
    var keepalive = 32
    var idleTimeout = TimeAmount.seconds(60)
    /// Requests sent on one connection before it is retired.
    var maxRequestsPerConnection = 1000
    /// Open connections (busy, connecting and idle) at most.
    var maxConnections = 256
    /// Requests that may wait for a connection when all are busy; more are refused (503).
    var queue = 128
    var queueTimeout = TimeAmount.seconds(1)
    var connectTimeout = TimeAmount.seconds(1)
    /// Local-origin failures in a row that take the server out of rotation (`max_fails`; 0: never).
    var maxFails = 1
    /// How long a server taken out waits before it is probed again, without active checks (`fail_timeout`).
    var failTimeout = Duration.seconds(1)
    /// TLS to the server; nil for plain TCP.
    var tls: UpstreamTLS?
    /// `protocol = h2`: requests are streams of one HTTP/2 connection per event loop.
    var http2 = false
}

/// Why a pool could not hand out a connection.
enum PoolError: Error, Hashable {
    /// TCP connect failed or timed out.
    case connectFailed(String)
    /// All connections busy and the queue full.
    case queueFull
    /// Waited `queue_timeout` for a connection.
    case queueTimeout
    /// The pool was retired by a reload and takes no new requests.
    case closed
}

/// The keep-alive connections to one upstream server from one event loop.
///
/// Everything here runs on `eventLoop`: the client connections that use it live there too, so the pool needs no
/// locks. Idle connections are reused last-in first-out (the warmest first) and closed after `idleTimeout`.
final class ConnectionPool {
    typealias Callback = (Result<UpstreamConnection, PoolError>) -> Void

    private struct Waiter {
        let id: Int
        let callback: Callback
        let timeout: Scheduled<Void>
    }

    let eventLoop: any EventLoop
    let target: UpstreamTarget
    let settings: PoolSettings
    private var idle: [UpstreamConnection] = [] {
        didSet {  // (`oldValue` is not read: the array is changed in place, not copied)
            load.idle.wrappingIncrement(by: idle.count - reportedIdle, ordering: .relaxed)
            reportedIdle = idle.count
        }
    }
    /// What this pool last added to the server's shared counts.
    private var reportedIdle = 0
    private var reportedWaiters = 0
    /// The server's counts over every loop's pool (metrics, `/status`).
    let load: ServerLoad
    /// Connections counted against `maxConnections`: busy, connecting and idle.
    private(set) var openCount = 0 {
        didSet {
            load.open.wrappingIncrement(by: openCount - oldValue, ordering: .relaxed)
            // A retired HTTP/2 pool closes its connection once the last stream is done, not under it.
            if openCount == 0 && isClosed, let session = http2 {
                http2 = nil
                session.close()
            }
        }
    }
    private var waiters = Deque<Waiter>() {
        didSet {
            load.pending.wrappingIncrement(by: waiters.count - reportedWaiters, ordering: .relaxed)
            reportedWaiters = waiters.count
        }
    }
    private var nextWaiterID = 0
    private var sweep: Scheduled<Void>?
    private(set) var isClosed = false
    /// With `protocol = h2`: the connection whose streams serve as this pool's connections.
    private var http2: HTTP2Session?

    init(eventLoop: any EventLoop, target: UpstreamTarget, settings: PoolSettings, load: ServerLoad = ServerLoad()) {
        self.load = load
        self.eventLoop = eventLoop
        self.target = target
        self.settings = settings
    }

    var idleCount: Int { idle.count }
    var busyCount: Int { openCount - idle.count }

    /// An idle connection ready for a request, if there is one: the common case, handed out without a callback (and
    /// without the closure a callback costs).
    func takeIdle() -> UpstreamConnection? {
        eventLoop.preconditionInEventLoop()
        guard !isClosed else { return nil }
        let now = NIODeadline.now()
        while let connection = idle.popLast() {
            if connection.isActive && now - connection.idleSince < settings.idleTimeout { return connection }
            retire(connection)
        }
        return nil
    }

    /// Hands out a connection: an idle one, a new one, or (when all are busy) one freed later.
    func acquire(_ callback: @escaping Callback) {
        eventLoop.preconditionInEventLoop()
        guard !isClosed else { return callback(.failure(.closed)) }
        if let connection = takeIdle() { return callback(.success(connection)) }
        if openCount < settings.maxConnections {
            connect(callback)
        } else if waiters.count < settings.queue {
            let id = nextWaiterID
            nextWaiterID += 1
            let timeout = eventLoop.assumeIsolated().scheduleTask(in: settings.queueTimeout) { [self] in
                if let index = waiters.firstIndex(where: { $0.id == id }) {
                    let waiter = waiters.remove(at: index)
                    waiter.callback(.failure(.queueTimeout))
                }
            }
            waiters.append(Waiter(id: id, callback: callback, timeout: timeout))
        } else {
            callback(.failure(.queueFull))
        }
    }

    /// Takes a connection back. `reusable` says the exchange ended cleanly, so the connection is in step.
    func release(_ connection: UpstreamConnection, reusable: Bool) {
        eventLoop.preconditionInEventLoop()
        connection.exchange = nil
        if reusable && connection.isReading {
            // The answer ended inside a read: whatever else that read carried is still being parsed. Only once it
            // is done is the connection known clean (anything more was a stray answer and closed it).
            connection.releaseAfterRead = true
            return
        }
        // An HTTP/2 stream serves one request; the connection under it stays with the session.
        let keep = !settings.http2 && reusable && !isClosed && connection.isActive
            && connection.requestCount < settings.maxRequestsPerConnection && settings.keepalive > 0
        guard keep else {
            retire(connection)
            serveWaiterWithNewConnection()
            return
        }
        if let waiter = waiters.popFirst() {
            waiter.timeout.cancel()
            waiter.callback(.success(connection))
            return
        }
        if idle.count >= settings.keepalive {
            retire(connection)
            return
        }
        connection.idleSince = .now()
        idle.append(connection)
        scheduleSweep()
    }

    /// A connection leaves the pool for good (it became a tunnel): no longer counted, never handed out again.
    func detach(_ connection: UpstreamConnection) {
        connection.pool = nil
        connection.exchange = nil
        openCount -= 1
        serveWaiterWithNewConnection()
    }

    /// An idle connection was closed by the server.
    func idleConnectionClosed(_ connection: UpstreamConnection) {
        if let index = idle.firstIndex(where: { $0 === connection }) {
            idle.remove(at: index)
            openCount -= 1
            serveWaiterWithNewConnection()
        }
    }

    /// Stops handing out connections (after a reload removed or changed this server): idle ones close now, busy
    /// ones when their exchange ends; waiters get `.closed`.
    func close() {
        eventLoop.preconditionInEventLoop()
        isClosed = true
        sweep?.cancel()
        if openCount == 0, let session = http2 {
            // Otherwise the last stream to end closes it (see `openCount`): streams in flight finish, as busy
            // HTTP/1.1 connections do.
            http2 = nil
            session.close()
        }
        for connection in idle { retire(connection) }
        idle.removeAll()
        while let waiter = waiters.popFirst() {
            waiter.timeout.cancel()
            waiter.callback(.failure(.closed))
        }
    }

    // MARK: Internals

    private func retire(_ connection: UpstreamConnection) {
        connection.pool = nil
        connection.close()
        openCount -= 1
    }

    private func serveWaiterWithNewConnection() {
        guard !isClosed, openCount < settings.maxConnections, let waiter = waiters.popFirst() else { return }
        waiter.timeout.cancel()
        connect(waiter.callback)
    }

    private func connect(_ callback: @escaping Callback) {
        openCount += 1
        let connection = UpstreamConnection()
        connection.pool = self
        if settings.http2 {
            let session = http2 ?? HTTP2Session(eventLoop: eventLoop, target: target, settings: settings)
            http2 = session
            session.openStream(for: connection) { [self] result in
                connected(connection, result, callback)
            }
            return
        }
        let bound = NIOLoopBound(connection, eventLoop: eventLoop)  // the channel is created on this loop
        let bootstrap = target.bootstrap(on: eventLoop, timeout: settings.connectTimeout, tls: settings.tls) { channel in
            // Request heads sent upstream are the client's, already checked by NIO's parser, plus fields the gateway
            // writes itself: validating them again on every request would only cost time. Framing is the gateway's
            // own (`ProxyHeaders`): the encoder must not guess it from the method.
            var encoder = HTTPRequestEncoder.Configuration()
            encoder.automaticallySetFramingHeaders = false
            // Bytes after a 101 belong to the tunnel that replaces the parser: passed on, not dropped.
            try channel.pipeline.syncOperations.addHTTPClientHandlers(
                leftOverBytesStrategy: .forwardBytes, enableOutboundHeaderValidation: false,
                encoderConfiguration: encoder)
            try channel.pipeline.syncOperations.addHandler(bound.value)
        }
        target.connect(bootstrap).assumeIsolated().whenComplete { [self] result in
            connected(connection, result.map { _ in () }.mapError { .connectFailed("\($0)") }, callback)
        }
    }

    /// A new connection (or HTTP/2 stream) is up, or failed: hand it out, or count the failure and serve a waiter.
    private func connected(
        _ connection: UpstreamConnection, _ result: Result<Void, PoolError>, _ callback: @escaping Callback
    ) {
        switch result {
        case .success:
            if isClosed {
                connection.close()
                openCount -= 1
                callback(.failure(.closed))
            } else {
                callback(.success(connection))
            }
        case .failure(let error):
            openCount -= 1
            callback(.failure(error))
            serveWaiterWithNewConnection()
        }
    }

    private func scheduleSweep() {
        guard sweep == nil else { return }
        sweep = eventLoop.assumeIsolated().scheduleTask(in: settings.idleTimeout) { [self] in
            sweep = nil
            let now = NIODeadline.now()
            let (stale, fresh) = (
                idle.filter { now - $0.idleSince >= settings.idleTimeout },
                idle.filter { now - $0.idleSince < settings.idleTimeout }
            )
            idle = fresh
            for connection in stale { retire(connection) }
            if !idle.isEmpty { scheduleSweep() }
        }
    }
}

@available(*, unavailable)
extension ConnectionPool: Sendable {}

/// Where an upstream server is.
struct UpstreamTarget: Hashable, Sendable, CustomStringConvertible {
    let host: String
    let port: Int
    /// Pre-resolved when the host is an IP literal, so that connecting needs no resolver.
    let socketAddress: SocketAddress?

    /// `host:port` (`[v6]:port`), made once: logs name a server on every request.
    let description: String

    init(host: String, port: Int) {
        self.host = host
        self.port = port
        self.socketAddress = try? SocketAddress(ipAddress: host, port: port)
        self.description = host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// A client bootstrap to this server on `loop`: `TCP_NODELAY`, the connect timeout, the upstream's TLS first in
    /// the pipeline (when it has TLS), then what `handlers` adds.
    func bootstrap(
        on loop: any EventLoop, timeout: TimeAmount, tls: UpstreamTLS?,
        _ handlers: @escaping @Sendable (any Channel) throws -> Void
    ) -> ClientBootstrap {
        let host = self.host
        return ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tls { try channel.pipeline.syncOperations.addHandler(try tls.handler(for: host)) }
                    try handlers(channel)
                }
            }
    }

    /// Connects `bootstrap` to the server: to its address when the host is an IP literal, else by name.
    func connect(_ bootstrap: ClientBootstrap) -> EventLoopFuture<any Channel> {
        if let socketAddress { return bootstrap.connect(to: socketAddress) }
        return bootstrap.connect(host: host, port: port)
    }
}
