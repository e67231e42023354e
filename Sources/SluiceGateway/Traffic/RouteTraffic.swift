import Atomics
import Logging
import NIOCore
import SluiceConfig
import SluiceRedis
import SluiceTraffic

/// One compiled `rate_limit` line of a route.
final class CompiledRateLimit: Sendable {
    enum Store: Sendable {
        /// `key=route`: one bucket for the route, shared by every event loop.
        case route(TokenBucket)
        /// `key=client_ip` or `key=header:NAME`: a bounded table of buckets.
        case keyed(KeyedRateLimiter)
        /// A per-key limit shared by every gateway through Redis.
        case global(RedisRateLimiter, name: String)
    }

    let config: RateLimitConfig
    let policy: RateLimitPolicy
    let store: Store
    /// When the last shadow-mode line was logged (uptime nanoseconds): at most one a second per limit.
    private let lastShadowLog = ManagedAtomic<Int64>(.min)

    init(config: RateLimitConfig, policy: RateLimitPolicy, store: Store) {
        self.config = config
        self.policy = policy
        self.store = store
    }

    /// `mode=shadow`: logs that requests went over the limit, at most once a second.
    func logShadow(route: String, logger: Logger) {
        let now = TrafficClock.now().wholeNanoseconds
        let last = lastShadowLog.load(ordering: .relaxed)
        guard last == .min || now &- last >= 1_000_000_000,
            lastShadowLog.compareExchange(expected: last, desired: now, ordering: .relaxed).exchanged
        else { return }
        logger.notice(
            "rate limit exceeded (shadow mode: let through)",
            metadata: ["route": "\(route)", "limit": "\(config.count)/\(ValueParsing.text(config.period)) key=\(config.key)"])
    }
}

/// What a degraded, shed or breaker-refused route answers.
struct FallbackResponse: Sendable {
    let status: Int
    let contentType: String
    let body: [UInt8]
}

/// A route's traffic control, compiled once per configuration and carried over a reload when the route's traffic
/// settings did not change (buckets keep their tokens, breakers and rules their windows).
final class RouteTraffic: Sendable {
    let name: String
    let settings: Settings
    let priority: RoutePriority
    let rateLimits: [CompiledRateLimit]
    let fallback: FallbackResponse?
    let degradeRules: [SharedDegradeRule]
    let manualSwitch: DegradeSwitch
    let breaker: SharedCircuitBreaker?
    let adaptive: AdaptiveConcurrencyLimiter?
    let fault: FaultPolicy?
    /// The Redis client its global limits use, if any.
    let globalLimiter: RedisRateLimiter?

    /// The configuration this was compiled from: what a reload compares.
    struct Settings: Equatable, Sendable {
        var rateLimits: [RateLimitConfig]
        var priority: RoutePriority
        var fallback: FallbackConfig?
        var degrade: [DegradeConfig]
        var circuitBreaker: CircuitBreakerConfig?
        var adaptiveConcurrency: AdaptiveConcurrencyConfig?
        var fault: FaultConfig?
        var faultHeader: Bool
        var globalBackend: GlobalRateLimitConfig?

        init(_ route: RouteConfig, global: GlobalRateLimitConfig?) {
            rateLimits = route.rateLimits.map { var limit = $0; limit.line = 0; return limit }
            priority = route.priority
            fallback = route.fallback
            degrade = route.degrade
            circuitBreaker = route.circuitBreaker
            adaptiveConcurrency = route.adaptiveConcurrency
            fault = route.fault
            faultHeader = route.faultHeader
            globalBackend = route.rateLimits.contains { $0.key != .route } ? global : nil
        }

        /// No traffic control at all: the route skips the gates.
        var isEmpty: Bool {
            rateLimits.isEmpty && priority == .normal && fallback == nil && degrade.isEmpty && circuitBreaker == nil
                && adaptiveConcurrency == nil && fault == nil && !faultHeader
        }
    }

    init(
        name: String, settings: Settings, rateLimits: [CompiledRateLimit], fallback: FallbackResponse?,
        degradeRules: [SharedDegradeRule], manualSwitch: DegradeSwitch, breaker: SharedCircuitBreaker?,
        adaptive: AdaptiveConcurrencyLimiter?, fault: FaultPolicy?, globalLimiter: RedisRateLimiter?
    ) {
        self.name = name
        self.settings = settings
        self.priority = settings.priority
        self.rateLimits = rateLimits
        self.fallback = fallback
        self.degradeRules = degradeRules
        self.manualSwitch = manualSwitch
        self.breaker = breaker
        self.adaptive = adaptive
        self.fault = fault
        self.globalLimiter = globalLimiter
    }
}

/// An upstream's traffic control: breaker, hard limits, adaptive concurrency.
final class UpstreamTraffic: Sendable {
    let name: String
    let breaker: SharedCircuitBreaker?
    let maxRequests: ConcurrencyCap?
    let maxPending: ConcurrencyCap?
    let adaptive: AdaptiveConcurrencyLimiter?
    /// Degrade rules over the upstream's answers, each with the highest route priority it degrades.
    let degradeRules: [(rule: SharedDegradeRule, shedUpTo: RoutePriority)]
    let settings: Settings

    struct Settings: Equatable, Sendable {
        var circuitBreaker: CircuitBreakerConfig?
        var maxRequests: Int?
        var maxPending: Int?
        var adaptiveConcurrency: AdaptiveConcurrencyConfig?
        var degrade: [DegradeConfig]

        init(_ upstream: UpstreamConfig) {
            circuitBreaker = upstream.circuitBreaker
            maxRequests = upstream.maxRequests
            maxPending = upstream.maxPending
            adaptiveConcurrency = upstream.adaptiveConcurrency
            degrade = upstream.degrade
        }

        var isEmpty: Bool {
            circuitBreaker == nil && maxRequests == nil && maxPending == nil && adaptiveConcurrency == nil
                && degrade.isEmpty
        }
    }

    init(name: String, settings: Settings, now: Duration) {
        self.name = name
        self.settings = settings
        self.breaker = settings.circuitBreaker.map { SharedCircuitBreaker(policy: TrafficPolicies.breaker($0)) }
        self.maxRequests = settings.maxRequests.map { ConcurrencyCap(limit: $0) }
        self.maxPending = settings.maxPending.map { ConcurrencyCap(limit: $0) }
        self.adaptive = settings.adaptiveConcurrency.map { TrafficPolicies.adaptiveLimiter($0, now: now) }
        self.degradeRules = settings.degrade.map {
            (SharedDegradeRule(policy: TrafficPolicies.degrade($0)), $0.shedUpTo)
        }
    }
}
