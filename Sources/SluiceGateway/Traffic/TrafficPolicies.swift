import SluiceConfig
import SluiceTraffic

/// The configuration's traffic settings as the policies' own types (percentages as 0...100, and so on).
enum TrafficPolicies {
    static func rateLimit(_ config: RateLimitConfig) -> RateLimitPolicy {
        RateLimitPolicy(
            count: config.count, per: config.period, burst: config.burst, warmup: config.warmup, pace: config.pace)
    }

    static func breaker(_ config: CircuitBreakerConfig) -> CircuitBreakerPolicy {
        let window: CircuitBreakerPolicy.Window
        switch config.window {
        case .calls(let calls): window = .calls(calls)
        case .time(let span): window = .time(span)
        }
        return CircuitBreakerPolicy(
            window: window, minCalls: config.minCalls, failureRatePercent: config.failureRate * 100,
            slowCallThreshold: config.slowCall, slowCallRatePercent: config.slowRate * 100,
            openDuration: config.open, halfOpenCalls: config.halfOpen, halfOpenTimeout: config.halfOpenTimeout)
    }

    static func degrade(_ config: DegradeConfig) -> DegradePolicy {
        let trigger: DegradePolicy.Trigger
        switch config.trigger {
        case .slowRatio(let slow, let ratio): trigger = .slowRatio(slowerThan: slow, percent: ratio * 100)
        case .errorRatio(let ratio): trigger = .errorRatio(percent: ratio * 100)
        case .errorCount(let count): trigger = .errorCount(count)
        }
        return DegradePolicy(
            trigger: trigger, window: config.window, minRequests: config.minRequests, recovery: config.recovery)
    }

    static func fault(_ config: FaultConfig, headerControl: Bool) -> FaultPolicy {
        FaultPolicy(
            delay: config.delay, delayPercent: config.delayFraction * 100, abortStatus: config.abortStatus,
            abortPercent: config.abortFraction * 100, headerControl: headerControl)
    }

    static func adaptive(_ config: AdaptiveConcurrencyConfig) -> AdaptiveConcurrencyPolicy {
        AdaptiveConcurrencyPolicy(
            initialLimit: config.initialLimit, minLimit: config.minLimit, maxLimit: config.maxLimit,
            rttTolerance: config.tolerance)
    }

    static func adaptiveLimiter(_ config: AdaptiveConcurrencyConfig, now: Duration) -> AdaptiveConcurrencyLimiter {
        var random = SystemRandomNumberGenerator()
        return AdaptiveConcurrencyLimiter(policy: adaptive(config), now: now, random: &random)
    }

    static func protection(_ config: ProtectionConfig) -> SystemProtectionPolicy {
        SystemProtectionPolicy(maxInflight: config.maxInflight, adaptive: config.adaptive, recovery: config.recovery)
    }
}
