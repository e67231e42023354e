import Atomics
import Logging
import NIOCore
import SluiceConfig
import SluiceRedis
import SluiceTraffic

/// Builds the traffic-control objects of a configuration, taking over the running ones whose settings did not
/// change, so that a reload keeps bucket levels, breaker windows, adaptive limits and manual switches.
struct TrafficCompiler {
    var previousRoutes: [String: RouteTraffic] = [:]
    var previousUpstreams: [String: UpstreamTraffic] = [:]
    var previousProtection: (config: ProtectionConfig, protection: SystemProtection)?
    var previousGlobal: (config: GlobalRateLimitConfig, limiter: RedisRateLimiter)?
    let group: any EventLoopGroup
    let logger: Logger

    func upstream(_ config: UpstreamConfig, now: Duration) -> UpstreamTraffic? {
        let settings = UpstreamTraffic.Settings(config)
        guard !settings.isEmpty else { return nil }
        if let old = previousUpstreams[config.name], old.settings == settings { return old }
        return UpstreamTraffic(name: config.name, settings: settings, now: now)
    }

    func protection(_ config: ProtectionConfig?, now: Duration) -> SystemProtection? {
        guard let config else { return nil }
        if let previous = previousProtection, previous.config.sameSettings(as: config) { return previous.protection }
        return SystemProtection(policy: TrafficPolicies.protection(config))
    }

    func globalLimiter(_ config: GlobalRateLimitConfig?) -> RedisRateLimiter? {
        guard let config else { return nil }
        if let previous = previousGlobal, previous.config.sameSettings(as: config) { return previous.limiter }
        return RedisRateLimiter(
            host: config.host, port: config.port, group: group, batch: config.batch, timeout: config.timeout,
            logger: logger)
    }

    func route(
        _ config: RouteConfig, global: GlobalRateLimitConfig?, globalLimiter: RedisRateLimiter?, now: Duration
    ) -> RouteTraffic? {
        let settings = RouteTraffic.Settings(config, global: global)
        let previous = previousRoutes[config.name]
        guard !settings.isEmpty else { return nil }
        if let previous, previous.settings == settings, previous.globalLimiter === globalLimiter { return previous }
        let limits = config.rateLimits.map { limit -> CompiledRateLimit in
            let policy = TrafficPolicies.rateLimit(limit)
            let store: CompiledRateLimit.Store
            let isGlobal = limit.key != .route && (limit.scope ?? (globalLimiter != nil ? .global : .local)) == .global
            if isGlobal, let globalLimiter {
                store = .global(globalLimiter, name: "\(config.name):\(limit.key)")
            } else if limit.key == .route {
                store = .route(TokenBucket(policy: policy, now: now))
            } else {
                store = .keyed(KeyedRateLimiter(policy: policy, maxKeys: limit.maxKeys, now: now))
            }
            return CompiledRateLimit(config: limit, policy: policy, store: store)
        }
        let fallback = config.fallback.map {
            FallbackResponse(status: $0.status, contentType: $0.contentType, body: $0.body)
        }
        return RouteTraffic(
            name: config.name, settings: settings, rateLimits: limits, fallback: fallback,
            degradeRules: config.degrade.map { SharedDegradeRule(policy: TrafficPolicies.degrade($0)) },
            manualSwitch: previous?.manualSwitch ?? DegradeSwitch(),
            breaker: config.circuitBreaker.map { SharedCircuitBreaker(policy: TrafficPolicies.breaker($0)) },
            adaptive: config.adaptiveConcurrency.map { TrafficPolicies.adaptiveLimiter($0, now: now) },
            fault: config.fault.map { TrafficPolicies.fault($0, headerControl: config.faultHeader) }
                ?? (config.faultHeader ? TrafficPolicies.fault(FaultConfig(), headerControl: true) : nil),
            globalLimiter: globalLimiter)
    }
}

extension ProtectionConfig {
    /// Equal but for where it was written.
    func sameSettings(as other: ProtectionConfig) -> Bool {
        adaptive == other.adaptive && maxInflight == other.maxInflight && recovery == other.recovery
    }
}

extension GlobalRateLimitConfig {
    func sameSettings(as other: GlobalRateLimitConfig) -> Bool {
        host == other.host && port == other.port && batch == other.batch && timeout == other.timeout
    }
}
