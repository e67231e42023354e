public import Logging
public import NIOCore
import NIOConcurrencyHelpers
public import NIOPosix
public import SluiceConfig
public import SluiceServer
public import SluiceTLS

/// The running gateway: its listeners, the current `RuntimeState`, and reloads.
///
/// A reload compiles the new configuration beside the running one and swaps it in with one atomic store: requests
/// already in flight finish on the state they started with, new ones use the new state. Listeners that stay are
/// untouched (no connection is dropped), new ones are bound, removed ones drain. Servers that did not change keep
/// their pools and connections; servers that went away are retired after a grace period, so that requests that
/// started on the old state can still use them.
public final class Gateway: Sendable {
    public let group: any EventLoopGroup
    public let stats = GatewayStats()
    let logger: Logger
    /// Repeated events logged once, then summarised once a second.
    let events: ThrottledLogger
    private let proxy: ProxyContext
    private let mutable: NIOLockedValueBox<Mutable>
    /// The `[tls]` certificates, loaded and checked; replaced by a reload that loads new ones.
    private let certificates: NIOLockedValueBox<ServerCertificates?>

    private struct Mutable {
        var config: GatewayConfig
        var servers: [RuntimeCompiler.ServerKey: UpstreamServer]
        var listeners: [ListenAddress: HTTPServer] = [:]
        var generation: Int
        var admin: (address: ListenAddress, server: AdminServer)?
    }

    /// Compiles `config`; call `start()` to bind. Throws `ConfigErrors` if the routes conflict.
    public init(config: GatewayConfig, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) throws {
        self.group = group
        self.logger = logger
        let events = ThrottledLogger(logger: logger, eventLoop: group.next())
        self.events = events
        let compiled = try RuntimeCompiler(previous: [:], group: group, logger: logger, events: events)
            .compile(config, generation: 1)
        self.certificates = NIOLockedValueBox(try Self.loadCertificates(config))
        Self.warnAboutUnbuiltFeatures(config, logger: logger)
        self.proxy = ProxyContext(
            state: compiled.state, stats: stats, logger: logger,
            accessLog: config.server.accessLog ? AccessLog(group: group) : nil, events: events)
        self.mutable = NIOLockedValueBox(Mutable(config: config, servers: compiled.servers, generation: 1))
    }

    /// The compiled state new requests use (for tests and, later, the admin API).
    var currentState: RuntimeState { proxy.state }

    /// The configuration in force.
    public var config: GatewayConfig { mutable.withLockedValue { $0.config } }

    /// How many configurations have been applied (1 before any reload).
    public var generation: Int { mutable.withLockedValue { $0.generation } }

    /// The bound addresses of the listeners, with real ports (for `listen = 127.0.0.1:0`).
    public var listeningAddresses: [SocketAddress] {
        mutable.withLockedValue { state in state.listeners.values.compactMap(\.localAddress) }
    }

    /// Client connections closed at accept because `max_client_connections` were open, over all listeners.
    public var refusedConnections: Int {
        mutable.withLockedValue { state in state.listeners.values.reduce(0) { $0 + $1.refusedConnections } }
    }

    /// Each listener as configured (with its flags and real port).
    public var listeners: [ListenAddress] {
        mutable.withLockedValue { Array($0.listeners.keys) }
    }

    /// The real port of the first listener with `tls` (or with `h2c`, or plain).
    public func port(tls: Bool = false, h2c: Bool = false, redirect: Bool = false) -> Int? {
        listeners.first { $0.tls == tls && $0.h2c == h2c && $0.redirectHTTPS == redirect }?.port
    }

    /// The protocol counters of every listener (TLS, HTTP/2, abuse).
    var listenerProtocolStats: [ProtocolStats] {
        mutable.withLockedValue { state in state.listeners.values.map(\.protocolStats) }
    }

    /// The number of HTTP/2 abuse events of `kind` cut off, over all listeners.
    public func http2Abuse(_ kind: ProtocolStats.Abuse) -> Int {
        listenerProtocolStats.reduce(0) { $0 + $1.count(of: kind) }
    }

    /// Where the admin API listens (with its real port), if it does.
    public var adminAddress: SocketAddress? { mutable.withLockedValue { $0.admin?.server.localAddress } }

    /// Binds every listener of the configuration, and the admin API.
    public func start() async throws {
        let config = self.config
        for address in config.server.listen { try await bind(address, server: config.server) }
        try await startAdmin(config.server.admin)
    }

    /// Starts, moves or stops the admin API to match `address`.
    private func startAdmin(_ address: ListenAddress?) async throws {
        let current = mutable.withLockedValue { $0.admin }
        guard current?.address != address else { return }
        if let current {
            mutable.withLockedValue { $0.admin = nil }
            await current.server.shutdown()
        }
        guard let address else { return }
        let admin = AdminServer(host: address.host, port: address.port, group: group, logger: logger) {
            [weak self] head in
            self?.adminAnswer(head) ?? .text("shutting down", status: .serviceUnavailable)
        }
        try await admin.start()
        mutable.withLockedValue { $0.admin = (address, admin) }
    }

    /// Applies a new configuration (SIGHUP). On error nothing changes: the running state keeps serving.
    public func apply(_ config: GatewayConfig) async throws {
        let (previous, generation) = mutable.withLockedValue { ($0.servers, $0.generation + 1) }
        var compiler = RuntimeCompiler(previous: previous, group: group, logger: logger, events: events)
        compiler.previousUpstreams = proxy.state.upstreams
        compiler.previousState = (proxy.state, self.config)
        let compiled = try compiler.compile(config, generation: generation)
        // A configuration without [tls] keeps the last certificates: a TLS listener it removes drains with them.
        if let certificates = try Self.loadCertificates(config) {
            self.certificates.withLockedValue { $0 = certificates }
        }
        let old = mutable.withLockedValue { state -> (config: GatewayConfig, listeners: [ListenAddress: HTTPServer]) in
            let old = (state.config, state.listeners)
            state.config = config
            state.servers = compiled.servers
            state.generation = generation
            return old
        }
        proxy.swap(compiled.state)
        Self.warnAboutUnbuiltFeatures(config, logger: logger)

        // Listeners: bind the new, drain the removed.
        let wanted = Set(config.server.listen)
        for address in config.server.listen where old.listeners[address] == nil {
            try await bind(address, server: config.server)
        }
        for (address, server) in old.listeners where !wanted.contains(address) {
            mutable.withLockedValue { _ = $0.listeners.removeValue(forKey: address) }
            await server.shutdown(gracePeriod: TimeAmount(config.server.drainTimeout))
        }
        do {
            try await startAdmin(config.server.admin)
        } catch {
            logger.error("admin API could not listen", metadata: ["address": "\(config.server.admin.map { "\($0)" } ?? "-")", "error": "\(error)"])
        }

        // Servers that are gone: retire their pools once requests that started on the old state are done with them.
        let kept = Set(compiled.servers.keys)
        let retired = previous.filter { !kept.contains($0.key) }.map(\.value)
        if !retired.isEmpty {
            let grace = TimeAmount(min(config.server.drainTimeout, .seconds(10)))
            group.next().scheduleTask(in: grace) { for server in retired { server.close() } }
        }
        if old.config.server.listen == config.server.listen && old.config.server != config.server {
            logger.notice("server limits and timeouts apply to listeners bound from now on; existing ones keep theirs")
        }
        logger.info(
            "configuration applied",
            metadata: ["generation": "\(generation)", "routes": "\(config.routes.count)",
                       "upstreams": "\(config.upstreams.count)"])
    }

    /// Stops accepting and drains every listener within the configured `drain_timeout`.
    public func shutdown() async {
        let (listeners, grace) = mutable.withLockedValue { state in
            (Array(state.listeners.values), TimeAmount(state.config.server.drainTimeout))
        }
        await withTaskGroup(of: Void.self) { tasks in
            for listener in listeners { tasks.addTask { await listener.shutdown(gracePeriod: grace) } }
        }
        let admin = mutable.withLockedValue { state in
            state.listeners.removeAll()
            defer { state.admin = nil }
            return state.admin?.server
        }
        await admin?.shutdown()
        await proxy.accessLog?.flush()
    }

    /// Settings the configuration accepts but this version does not act on yet, said out loud rather than ignored.
    private static func warnAboutUnbuiltFeatures(_ config: GatewayConfig, logger: Logger) {
        for warning in config.warnings { logger.warning("\(warning)") }
        for upstream in config.upstreams {
            var unbuilt: [String] = []
            if upstream.slowStart > .zero && upstream.balance != .roundRobin {
                unbuilt.append("slow_start with balance = \(upstream.balance.rawValue) (only round_robin ramps)")
            }
            for feature in unbuilt {
                logger.warning(
                    "not implemented yet, ignored: \(feature)",
                    metadata: ["upstream": "\(upstream.name)", "at": "\(upstream.location)"])
            }
        }
    }

    /// Loads and checks the `[tls]` certificates (nil without `[tls]`); throws `ConfigErrors` naming the bad files.
    /// `sluiced -t` runs it too.
    public static func loadCertificates(_ config: GatewayConfig) throws -> ServerCertificates? {
        guard let tls = config.tls else { return nil }
        return try ServerCertificates(tls)
    }

    private func bind(_ address: ListenAddress, server: ServerConfig) async throws {
        let proxy = self.proxy
        var configuration = ServerConfiguration(
            host: address.host, port: address.port, maxHeadSize: server.maxHeaderSize,
            maxBodySize: server.maxBodySize == 0 ? Int.max : server.maxBodySize,
            requestReadTimeout: TimeAmount(server.clientHeaderTimeout), idleTimeout: TimeAmount(server.keepaliveTimeout),
            reusePort: true, serverName: "sluice")
        configuration.validateOutboundHeaders = false  // relayed headers were validated by NIO's parser on the way in
        configuration.maxHeaders = server.maxHeaders
        configuration.bodyReadTimeout = TimeAmount(server.clientBodyTimeout)
        configuration.requestTimeout = server.requestTimeout > .zero ? TimeAmount(server.requestTimeout) : nil
        configuration.maxConnections = server.maxClientConnections
        configuration.http2.maxConcurrentStreams = server.http2.maxConcurrentStreams
        configuration.http2.initialWindowSize = server.http2.initialWindowSize
        configuration.http2.connectionWindowSize = server.http2.connectionWindowSize
        configuration.http2.maxHeaderListSize = server.http2.maxHeaderListSize ?? server.maxHeaderSize
        if address.tls {
            let certificates = self.certificates
            configuration.transport = .tls({ certificates.withLockedValue { $0! }.context })
        } else if address.h2c {
            configuration.transport = .h2c
        }
        let listener: HTTPServer
        if !address.tls && (address.redirectHTTPS || server.redirectHTTPS) {
            // The port of the TLS listener as bound (it may have asked for port 0), read per connection.
            let httpsPort: @Sendable () -> Int = { [weak self] in self?.port(tls: true) ?? 443 }
            listener = HTTPServer(configuration: configuration, group: group, logger: logger) { channel in
                try channel.pipeline.syncOperations.addHandler(HTTPSRedirectHandler(httpsPort: httpsPort()))
            }
        } else {
            let secure = address.tls
            listener = HTTPServer(configuration: configuration, group: group, logger: logger) { channel in
                let operations = channel.pipeline.syncOperations
                if proxy.state.compresses {
                    try operations.addHandler(PreferGzip())
                    try operations.addHandler(ResponseCompression.compressor())
                }
                try operations.addHandler(ProxyHandler(shared: proxy, secure: secure))
            }
        }
        let bound = try await listener.start()
        // Keyed by the address really bound, so that a listener asked for on port 0 is recognised by a later
        // configuration that names its real port.
        var key = address
        if address.port == 0, let port = bound.port { key.port = port }
        mutable.withLockedValue { $0.listeners[key] = listener }
    }
}
