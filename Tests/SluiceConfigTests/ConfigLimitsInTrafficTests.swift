import SluiceConfig
import SluiceTestSupport
import SluiceTraffic
import Testing

/// The largest (and smallest) values the config accepts, compiled into the traffic-control policies the way the
/// gateway's `TrafficPolicies` does, and driven through their arithmetic (admission, opening, expiry, the rounding
/// of `Retry-After`), at uptimes from a second to 150 years: every precondition holds and nothing overflows.
@Suite struct ConfigLimitsInTrafficTests {
    static let head = "[server]\nlisten = 127.0.0.1:8080\n[upstream users]\nserver = 10.0.0.1:80\n"
    static let day = Duration.seconds(86_400)
    static let year = Duration.seconds(31_536_000)
    static let nows: [Duration] = [.seconds(1), year * 10, year * 150]

    static func route(_ lines: String) throws -> RouteConfig {
        let config = try ConfigLoader.parse(head + "[route r]\nmatch = /\nupstream = users\n" + lines + "\n")
        return try #require(config.routes.first)
    }

    /// The gateway's `Retry-After` for a refusal: whole seconds rounded up, in 64-bit nanoseconds
    /// (`ProxyHandler.answerDegraded`). Fails the test where that addition would overflow.
    static func retryAfterSeconds(
        _ duration: Duration, sourceLocation: Testing.SourceLocation = #_sourceLocation
    ) -> Int64 {
        let (sum, overflow) = duration.wholeNanoseconds.addingReportingOverflow(999_999_999)
        #expect(!overflow, "Retry-After of \(duration) overflows", sourceLocation: sourceLocation)
        return overflow ? .max : max(1, sum / 1_000_000_000)
    }

    @Test(arguments: [
        "1/d burst=3650 pace=1h",  // the longest horizon: ten years to refill, and an hour of pacing
        "1/d burst=3650 warmup=1h pace=1h",
        "100000000/1ms burst=100000000 warmup=1h pace=1h key=client_ip max_keys=100000000",
        "100000000/1d burst=100000000 pace=1h",
        "1/1ms burst=100000000 key=header:X-Key max_keys=64",
        "99999989/86399999999999ns burst=99999999 pace=1h",  // a count and a period with no common factor
        "1/d burst=1",
    ])
    func rateLimits(line: String) throws {
        let limit = try #require(Self.route("rate_limit = " + line).rateLimits.first)
        let policy = RateLimitPolicy(
            count: limit.count, per: limit.period, burst: limit.burst, warmup: limit.warmup, pace: limit.pace)
        for now in Self.nows {
            let bucket = TokenBucket(policy: policy, now: now)
            let keyed = KeyedRateLimiter(policy: policy, maxKeys: limit.maxKeys, now: now)
            for offset in [Duration.zero, .zero, .zero, .nanoseconds(1), .seconds(1), Self.day, Self.year * 11] {
                for decision in [bucket.acquire(now: now + offset), keyed.acquire(key: "k", now: now + offset)] {
                    let fields = RateLimitHeaders.fields(limit: policy, decision: decision)
                    #expect(fields.count >= 3)
                    if case .limited(let retryAfter, _) = decision { _ = Self.retryAfterSeconds(retryAfter) }
                }
            }
            _ = bucket.available(now: now + Self.year)
        }
    }

    @Test(arguments: [
        "window=1d min_calls=1 open=1d half_open=1000 half_open_timeout=1d slow_call=1d failure_rate=100% slow_rate=100%",
        "window=100000 min_calls=100000 open=1d half_open=1 half_open_timeout=1d",
        "window=1s min_calls=1 open=1ns half_open=1 half_open_timeout=1ns failure_rate=0.000000001%",
    ])
    func circuitBreakers(line: String) throws {
        let config = try #require(Self.route("circuit_breaker = " + line).circuitBreaker)
        let window: CircuitBreakerPolicy.Window
        switch config.window {
        case .calls(let calls): window = .calls(calls)
        case .time(let span): window = .time(span)
        }
        let policy = CircuitBreakerPolicy(
            window: window, minCalls: config.minCalls, failureRatePercent: config.failureRate * 100,
            slowCallThreshold: config.slowCall, slowCallRatePercent: config.slowRate * 100, openDuration: config.open,
            halfOpenCalls: config.halfOpen, halfOpenTimeout: config.halfOpenTimeout)
        for start in Self.nows {
            var breaker = CircuitBreaker(policy: policy)
            var now = start
            // Fail every call until it opens (at most a full window of them).
            var opened = false
            for _ in 0..<100_001 where !opened {
                guard case .permitted(let permit) = breaker.tryAcquire(now: now) else { break }
                opened = breaker.record(permit, failed: true, duration: Self.day, now: now)?.to == .open
                if !opened { now += .nanoseconds(1) }
            }
            #expect(opened)
            guard case .rejected(let retryAfter) = breaker.tryAcquire(now: now) else {
                Issue.record("the breaker did not open")
                continue
            }
            #expect(retryAfter <= config.open)
            _ = Self.retryAfterSeconds(retryAfter)
            // Past the open time: probes, which time out and open it again; then far in the future.
            now += config.open
            _ = breaker.tick(now: now)
            _ = breaker.tryAcquire(now: now)
            if case .rejected(let wait) = breaker.tryAcquire(now: now) { _ = Self.retryAfterSeconds(wait) }
            _ = breaker.tick(now: now + config.halfOpenTimeout)
            _ = breaker.snapshot(now: now + Self.year * 100)
        }
    }

    @Test(arguments: [
        "error_count=1 window=1d min_requests=1 recovery=1d",
        "slow=1d ratio=0% window=100ms min_requests=1 recovery=1ns",
        "error_ratio=0% window=1d min_requests=1000000 recovery=1d",
    ])
    func degradeRules(line: String) throws {
        let config = try #require(Self.route("degrade = " + line).degrade.first)
        let trigger: DegradePolicy.Trigger
        switch config.trigger {
        case .slowRatio(let slow, let ratio): trigger = .slowRatio(slowerThan: slow, percent: ratio * 100)
        case .errorRatio(let ratio): trigger = .errorRatio(percent: ratio * 100)
        case .errorCount(let count): trigger = .errorCount(count)
        }
        let policy = DegradePolicy(
            trigger: trigger, window: config.window, minRequests: config.minRequests, recovery: config.recovery)
        for start in Self.nows {
            var rule = DegradeRule(policy: policy)
            var now = start
            for _ in 0..<min(config.minRequests + 2, 1000) {
                let admission = rule.admit(now: now)
                if case .degraded(let retryAfter) = admission {
                    _ = Self.retryAfterSeconds(retryAfter)
                    break
                }
                _ = rule.record(latency: Self.day * 2, failed: true, probe: admission == .probe, now: now)
                now += .nanoseconds(1)
            }
            _ = rule.admit(now: now + config.recovery)
            _ = rule.snapshot(now: now + Self.year * 100)
        }
    }

    @Test func adaptiveProtectionAndFaults() throws {
        let route = try Self.route(
            """
            adaptive_concurrency = min=100000 max=1000000 initial=1000000 tolerance=10
            fault = delay=1h percent=100
            fault = abort=599 percent=0.000000001
            """)
        let adaptive = try #require(route.adaptiveConcurrency)
        let policy = AdaptiveConcurrencyPolicy(
            initialLimit: adaptive.initialLimit, minLimit: adaptive.minLimit, maxLimit: adaptive.maxLimit,
            rttTolerance: adaptive.tolerance)
        var random = SplitMix64(state: 7)
        for now in Self.nows {
            let limiter = AdaptiveConcurrencyLimiter(policy: policy, now: now, random: &random)
            for step in 0..<200 {
                let at = now + .milliseconds(step * 10)
                guard let permit = limiter.tryAcquire(now: at) else { continue }
                limiter.complete(permit, rtt: step.isMultiple(of: 2) ? Self.day : .nanoseconds(1), now: at)
            }
        }
        let fault = try #require(route.fault)
        let faults = FaultPolicy(
            delay: fault.delay, delayPercent: fault.delayFraction * 100, abortStatus: fault.abortStatus,
            abortPercent: fault.abortFraction * 100, headerControl: true)
        #expect(faults.decide(delayHeader: nil, abortHeader: nil, using: &random) != .none)

        let config = try ConfigLoader.parse(Self.head + "[protection]\nmax_inflight = 10000000\nrecovery = 1d\n")
        let settings = try #require(config.protection)
        let protection = SystemProtection(
            policy: SystemProtectionPolicy(
                maxInflight: settings.maxInflight, adaptive: settings.adaptive, recovery: settings.recovery))
        for now in Self.nows {
            for step in 0..<100 where protection.admit(priority: .normal, now: now + .milliseconds(step)) {
                protection.complete(rtt: step.isMultiple(of: 3) ? Self.day : .milliseconds(1), now: now)
            }
            _ = protection.snapshot(now: now + Self.year)
        }
    }
}
