import Atomics
import Logging
import SluiceRedis
import SluiceRouter
import SluiceTraffic

/// Everything a request needs to be routed, compiled from one configuration: immutable, swapped whole on reload.
/// In-flight requests keep the state they started with.
final class RuntimeState: AtomicReference, @unchecked Sendable {  // `compresses` is set once, before publication
    let routes: RouteTable
    let upstreams: [String: UpstreamPool]
    /// Counts reloads; 1 for the first configuration.
    let generation: Int
    /// The routes' traffic control, by route name (routes without any are absent).
    let routeTraffic: [String: RouteTraffic]
    /// `[protection]`: gateway-wide load shedding.
    let protection: SystemProtection?
    /// `trusted_proxies`.
    let trustedProxies: TrustedProxies
    /// `[ratelimit]`: the Redis client global limits share.
    let globalLimiter: RedisRateLimiter?
    /// `merge_slashes`, `escaped_slashes`: how request paths are normalised before routing.
    let pathNormalizer: PathNormalizer
    /// `request_buffer_size`: bodies up to this size are read whole before an upstream connection is taken.
    let requestBufferSize: Int
    /// Some route has `gzip = on`: connections accepted while this state is current get a compressor.
    var compresses = false

    init(
        routes: RouteTable, upstreams: [String: UpstreamPool], generation: Int,
        routeTraffic: [String: RouteTraffic] = [:], protection: SystemProtection? = nil,
        trustedProxies: TrustedProxies = TrustedProxies([]), globalLimiter: RedisRateLimiter? = nil,
        pathNormalizer: PathNormalizer = PathNormalizer(), requestBufferSize: Int = 64 * 1024
    ) {
        self.pathNormalizer = pathNormalizer
        self.requestBufferSize = requestBufferSize
        self.routes = routes
        self.upstreams = upstreams
        self.generation = generation
        self.routeTraffic = routeTraffic
        self.protection = protection
        self.trustedProxies = trustedProxies
        self.globalLimiter = globalLimiter
    }
}

/// What every proxy connection shares: the current state, counters, logging.
final class ProxyContext: Sendable {
    private let current: ManagedAtomic<RuntimeState>
    let stats: GatewayStats
    let logger: Logger
    /// Repeated events (connect failures, servers taken out) are logged once, then summarised.
    let events: ThrottledLogger
    /// One line per request, written off the event loops; nil when `access_log = off`.
    let accessLog: AccessLog?

    /// The metrics registry's request-path series; nil in tests that build a context by hand.
    let metrics: GatewayMetrics?

    init(
        state: RuntimeState, stats: GatewayStats, logger: Logger, accessLog: AccessLog?, events: ThrottledLogger? = nil,
        metrics: GatewayMetrics? = nil
    ) {
        self.metrics = metrics
        self.current = ManagedAtomic(state)
        self.stats = stats
        self.logger = logger
        self.events = events ?? ThrottledLogger(logger: logger, eventLoop: nil)
        self.accessLog = accessLog
    }

    /// The state new requests use.
    var state: RuntimeState { current.load(ordering: .acquiring) }

    /// Installs a new state; returns the old one.
    @discardableResult
    func swap(_ state: RuntimeState) -> RuntimeState { current.exchange(state, ordering: .acquiringAndReleasing) }
}
