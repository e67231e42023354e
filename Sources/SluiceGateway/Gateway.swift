public import Logging
public import NIOCore
public import NIOConcurrencyHelpers
public import NIOPosix
public import SluiceConfig
public import SluiceServer
public import SluiceTLS
import SluiceDNS
public import Prometheus

#if canImport(Glibc)
import Glibc
#endif

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
    /// The metrics registry and what is recorded outside the request path.
    let metrics = GatewayMetrics()
    /// Where the gateway's metrics live: `sluiced` also points swift-metrics at it (`PrometheusMetricsFactory`), so
    /// what libraries record appears on `/metrics` too.
    public var metricsRegistry: PrometheusCollectorRegistry { metrics.registry }
    /// Event-loop lag and servers' recent error rates.
    let monitor: RuntimeMonitor
    /// One line per request, written off the loops (on or off, and where, by `access_log`).
    let accessLog: AccessLog
    /// What `POST /reload` runs (set by the daemon, which knows the configuration file); returns an error or nil.
    public let reloader = NIOLockedValueBox<(@Sendable () async -> String?)?>(nil)
    private let mutable: NIOLockedValueBox<Mutable>
    /// Reloads and DNS refreshes, one at a time.
    private let applying = SerialTasks()
    /// `resolve` servers' DNS lookups; nil until a configuration has any.
    let discovery: UpstreamDiscovery?
    /// The `[tls]` certificates, loaded and checked; replaced by a reload that loads new ones.
    private let certificates: NIOLockedValueBox<ServerCertificates?>

    private struct Mutable {
        var config: GatewayConfig
        var servers: [RuntimeCompiler.ServerKey: UpstreamServer]
        var listeners: [ListenAddress: HTTPServer] = [:]
        var generation: Int
        var admin: (address: ListenAddress, server: AdminServer)?
        /// The configuration's hash and when it was applied (Unix seconds).
        var configHash = ""
        var loadedAt = 0.0
        /// Servers a reload removed, closed after a grace period (or at shutdown, whichever is first).
        var retiring: [UpstreamServer] = []
        var auth = AuthMaterials()
    }

    /// Compiles `config`; call `start()` to bind. Throws `ConfigErrors` if the routes conflict.
    public init(config: GatewayConfig, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) throws {
        self.group = group
        self.logger = logger
        let events = ThrottledLogger(logger: logger, eventLoop: group.next())
        self.events = events
        self.certificates = NIOLockedValueBox(try Self.loadCertificates(config))
        var compiler = RuntimeCompiler(previous: [:], group: group, logger: logger, events: events)
        compiler.registry = config.server.metrics ? metrics.registry : nil
        let discovery = UpstreamDiscovery(
            client: DNSClient(
                nameservers: UpstreamDiscovery.nameservers(config.server), group: group,
                timeout: TimeAmount(config.server.resolverTimeout)),
            eventLoop: group.next(), logger: logger)
        self.discovery = discovery
        // Key files and DNS answers come in `start()` (they take I/O): until then, routes with `auth` refuse and
        // `resolve` servers are absent.
        let compiled = try compiler.compile(discovery.expand(config), generation: 1)
        Self.warnAboutUnbuiltFeatures(config, logger: logger)
        self.accessLog = AccessLog(group: group)
        self.monitor = RuntimeMonitor(group: group)
        self.proxy = ProxyContext(
            state: compiled.state, stats: stats, logger: logger, accessLog: accessLog, events: events,
            metrics: config.server.metrics ? metrics : nil)
        var mutable = Mutable(config: config, servers: compiled.servers, generation: 1)
        mutable.configHash = Self.hash(config)
        mutable.loadedAt = Self.unixTime()
        self.mutable = NIOLockedValueBox(mutable)
        metrics.configLoaded(hash: mutable.configHash, at: mutable.loadedAt, generation: 1)
        discovery.onChange.withLockedValue { $0 = { [weak self] in self?.discoveryChanged() } }
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

    /// The configuration's hash and when it was applied (Unix seconds).
    var configIdentity: (hash: String, loadedAt: Double) { mutable.withLockedValue { ($0.configHash, $0.loadedAt) } }

    /// The listeners' servers, and with their addresses.
    var listenerServers: [HTTPServer] { mutable.withLockedValue { Array($0.listeners.values) } }
    var listenerEntries: [(ListenAddress, HTTPServer)] {
        mutable.withLockedValue { $0.listeners.map { ($0.key, $0.value) } }.sorted { "\($0.0)" < "\($1.0)" }
    }

    /// Servers a reload removed that are not closed yet.
    var retiringCount: Int { mutable.withLockedValue { $0.retiring.count } }

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
        try await applying.run { try await self.prepare() }
        let config = self.config
        if let problem = await configureAccessLog(config.server) { logger.error("\(problem)") }
        for address in config.server.listen { try await bind(address, server: config.server) }
        try await startAdmin(config.server.admin)
        monitor.start { [weak self] in self?.allServers ?? [] }
    }

    /// Every upstream server of the state in force.
    var allServers: [UpstreamServer] {
        var seen = Set<ObjectIdentifier>()
        return currentState.upstreams.values.flatMap(\.servers).filter { seen.insert(ObjectIdentifier($0)).inserted }
    }

    private func configureAccessLog(_ server: ServerConfig) async -> String? {
        await accessLog.configure(on: server.accessLog, target: server.accessLogTarget, format: server.accessLogFormat)
    }

    /// Opens the access log file again (SIGUSR1, after logrotate moved it).
    public func reopenLogs() async {
        if let problem = await accessLog.reopen() {
            logger.error("\(problem); lines keep going to the old file")
        } else {
            logger.notice("access log reopened", metadata: ["path": "\(config.server.accessLogTarget)"])
        }
    }

    /// Counts a reload that failed before reaching `apply` (the file did not parse).
    public func reloadFailed() { metrics.reloaded(false) }

    /// The configuration's identity: FNV-1a (64 bits) over its full description, as 16 hex digits.
    static func hash(_ config: GatewayConfig) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in String(reflecting: config).utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x0000_0100_0000_01B3
        }
        let text = String(hash, radix: 16)
        return String(repeating: "0", count: 16 - text.count) + text
    }

    static func unixTime() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
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
            self?.adminReply(head) ?? .now(.text("shutting down", status: .serviceUnavailable))
        }
        try await admin.start()
        mutable.withLockedValue { $0.admin = (address, admin) }
    }

    /// Applies a new configuration (SIGHUP). On error nothing changes: the running state keeps serving.
    public func apply(_ config: GatewayConfig) async throws {
        do {
            try await applyChecked(config)
            metrics.reloaded(true)
        } catch {
            metrics.reloaded(false)
            throw error
        }
    }

    /// Loads the routes' key files and resolves the `resolve` servers, then compiles again with them (before the
    /// listeners bind).
    private func prepare() async throws {
        let config = self.config
        let needsAuth = config.routes.contains {
            if case .forward = $0.filters.auth?.kind { return false }
            return $0.filters.auth != nil
        }
        let resolves = config.upstreams.contains(where: \.resolves)
        guard needsAuth || resolves else { return }
        try await applySerially(config, listeners: false)
    }

    /// DNS answers changed: the running configuration compiled again with the new addresses.
    func discoveryChanged() {
        Task {
            try? await applying.run {
                try await self.recompile(self.config, auth: self.mutable.withLockedValue { $0.auth }, listeners: false)
            }
        }
    }

    private func applyChecked(_ config: GatewayConfig) async throws {
        try await applying.run { try await self.applySerially(config) }
    }

    /// Key files, then DNS answers, then the compile (with `listeners`, a reload's listener changes too).
    private func applySerially(_ config: GatewayConfig, listeners: Bool = true) async throws {
        // Key files first: a bad one fails the reload before anything is compiled.
        let auth = try await AuthMaterials.load(config)
        await discovery?.watch(config)
        try await recompile(config, auth: auth, listeners: listeners)
    }

    /// Compiles `config` and swaps it in; with `listeners`, also binds, drains and moves listeners and the admin API
    /// to match it (a reload; not before `start`, nor for a DNS change).
    private func recompile(_ config: GatewayConfig, auth: AuthMaterials, listeners: Bool = true) async throws {
        let (previous, generation) = mutable.withLockedValue { ($0.servers, $0.generation + 1) }
        // Certificates first: a bad one fails the reload before anything new (health checkers) is started.
        let certificates = try Self.loadCertificates(config)
        var compiler = RuntimeCompiler(previous: previous, group: group, logger: logger, events: events)
        compiler.registry = config.server.metrics ? metrics.registry : nil
        compiler.auth = auth
        compiler.previousUpstreams = proxy.state.upstreams
        compiler.previousState = (proxy.state, self.config)
        let compiled: (state: RuntimeState, servers: [RuntimeCompiler.ServerKey: UpstreamServer])
        do {
            compiled = try compiler.compile(discovery?.expand(config) ?? config, generation: generation)
        } catch {
            // Servers the failed compile started (with their health checkers) must not outlive it.
            let kept = Set(previous.values.map(ObjectIdentifier.init))
            for server in compiler.started where !kept.contains(ObjectIdentifier(server)) { server.close() }
            throw error
        }
        // A configuration without [tls] keeps the last certificates: a TLS listener it removes drains with them.
        if let certificates {
            self.certificates.withLockedValue { $0 = certificates }
        }
        if let problem = await configureAccessLog(config.server) { logger.error("\(problem)") }
        let old = mutable.withLockedValue { state -> (config: GatewayConfig, listeners: [ListenAddress: HTTPServer]) in
            let old = (state.config, state.listeners)
            state.config = config
            state.auth = auth
            state.servers = compiled.servers
            state.generation = generation
            state.configHash = Self.hash(config)
            state.loadedAt = Self.unixTime()
            return old
        }
        mutable.withLockedValue { metrics.configLoaded(hash: $0.configHash, at: $0.loadedAt, generation: generation) }
        proxy.swap(compiled.state)
        Self.warnAboutUnbuiltFeatures(config, logger: logger)

        if listeners {
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
        }

        // Servers that are gone: retire their pools once requests that started on the old state are done with them.
        let kept = Set(compiled.servers.keys)
        let retired = previous.filter { !kept.contains($0.key) }.map(\.value)
        if !retired.isEmpty {
            mutable.withLockedValue { $0.retiring += retired }
            let grace = TimeAmount(min(config.server.drainTimeout, .seconds(10)))
            group.next().scheduleTask(in: grace) { [weak self] in
                for server in retired { server.close() }
                let closed = Set(retired.map(ObjectIdentifier.init))
                self?.mutable.withLockedValue { $0.retiring.removeAll { closed.contains(ObjectIdentifier($0)) } }
            }
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
        await accessLog.flush()
    }

    /// Stops everything behind the listeners, once they drained: health checkers and pools of every server
    /// (retiring ones too), the Redis client of global limits, the monitor's timers, the access log's writer.
    public func closeUpstreams() async {
        let servers = mutable.withLockedValue { state in
            defer { state.retiring = [] }
            return Array(state.servers.values) + state.retiring
        }
        monitor.stop()
        discovery?.stop()
        for server in servers { server.close() }
        try? await currentState.globalLimiter?.shutdown().get()
        await accessLog.shutdown()
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
                    let meter = GzipMeter(stats: proxy.stats)
                    let (outer, inner) = meter.handlers()
                    try operations.addHandler(PreferGzip())
                    try operations.addHandler(outer, name: GzipMeter.names[0])
                    try operations.addHandler(ResponseCompression.compressor(meter: meter))
                    try operations.addHandler(inner, name: GzipMeter.names[1])
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
