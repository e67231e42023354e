import Logging
import SluiceConfig
import SluiceRedis
import SluiceTraffic

/// The traffic gates of one request, in the order of `ARCHITECTURE.md`: fault injection, rate limits (and their
/// pacing), system protection, degrade rules, the route's breaker and adaptive limit, then the upstream's degrade
/// rules, breaker, `max_requests` and adaptive limit.
///
/// A value with no channel and no clock: `run` goes through the gates from where it stopped and returns a verdict
/// (pass, refuse, wait, ask Redis). The handler carries the verdict out and, after a wait or a Redis answer, calls
/// `run` again; it continues with the next gate. What the request holds from the gates (permits, probes) is in
/// `ticket`, settled once when the request ends.
struct RequestGates {
    /// The next gate to run.
    enum Step: Equatable {
        case fault
        case rateLimit(Int)
        case pace
        case protection
        case degrade
        case routeBreaker
        case routeAdaptive
        case upstream
        case passed
    }

    /// What the gates read: the route's and upstream's policies, and the daemon's.
    struct Policies {
        var route: RouteTraffic?
        var routeName: String
        var upstream: UpstreamTraffic?
        var protection: SystemProtection?
        var stats: GatewayStats
        var logger: Logger
    }

    /// Why a gate refused the request; the handler answers accordingly.
    enum Refusal: Error {
        /// Fault injection aborts with this status.
        case fault(status: Int)
        /// A rate limit: 429 with these `RateLimit-*` fields.
        case rateLimited(fields: [(name: String, value: String)])
        /// Degraded (a rule, the manual switch, protection, an open breaker): the route's fallback or 503 with
        /// `Retry-After`.
        case degraded(DegradeCause, retryAfter: Duration)
        /// A concurrency limit: 503 with this message.
        case overLimit(message: String)
    }

    enum Verdict {
        /// Every gate let the request through.
        case pass
        case refuse(Refusal)
        /// Run again after this delay (a fault delay, or pacing).
        case wait(Duration)
        /// Answer the refusal after this delay (a delayed fault abort).
        case refuseAfter(Duration, Refusal)
        /// Ask the global limiter for `key`, then hand its answer to `globalAnswered` and, if that passes, run
        /// again.
        case askGlobal(RedisRateLimiter, name: String, key: String, limit: CompiledRateLimit)
    }

    private(set) var step = Step.fault
    /// What the gates did to this request, for metrics and the access log.
    var marks = GateMarks()
    /// The longest `pace=` wait the rate limits asked for.
    private var paceDelay = Duration.zero
    var ticket = TrafficTicket()

    /// Runs the gates from `step` on. `header` reads a request field, `clientIP` the client's address as
    /// `trusted_proxies` resolve it, `identity` who the route's `auth` said the caller is.
    mutating func run(
        now: Duration, _ policies: Policies, header: (String) -> String?, clientIP: () -> String,
        identity: () -> String? = { nil }, random: inout SplitMix64Generator
    ) -> Verdict {
        let traffic = policies.route
        let stats = policies.stats
        while true {
            switch step {
            case .fault:
                step = .rateLimit(0)
                guard let fault = traffic?.fault else { continue }
                let action = fault.decide(
                    delayHeader: fault.headerControl ? header("sluice-fault-delay") : nil,
                    abortHeader: fault.headerControl ? header("sluice-fault-abort") : nil,
                    using: &random)
                switch action {
                case .none:
                    continue
                case .abort(let status):
                    marks.insert(.fault)
                    stats.faultAborts.wrappingIncrement(ordering: .relaxed)
                    return .refuse(.fault(status: status))
                case .delay(let delay):
                    marks.insert(.fault)
                    stats.faultDelays.wrappingIncrement(ordering: .relaxed)
                    return .wait(delay)
                case .delayThenAbort(let delay, let status):
                    marks.insert(.fault)
                    stats.faultDelays.wrappingIncrement(ordering: .relaxed)
                    stats.faultAborts.wrappingIncrement(ordering: .relaxed)
                    return .refuseAfter(delay, .fault(status: status))
                }

            case .rateLimit(let index):
                guard let limits = traffic?.rateLimits, index < limits.count else {
                    step = .pace
                    continue
                }
                step = .rateLimit(index + 1)
                let limit = limits[index]
                switch limit.store {
                case .route(let bucket):
                    if let refusal = apply(bucket.acquire(now: now), limit, policies) { return .refuse(refusal) }
                case .keyed(let table):
                    let key = Self.key(limit.config.key, header: header, clientIP: clientIP, identity: identity)
                    if let refusal = apply(table.acquire(key: key, now: now), limit, policies) { return .refuse(refusal) }
                case .global(let limiter, let name):
                    let key = Self.key(limit.config.key, header: header, clientIP: clientIP, identity: identity)
                    guard let decision = limiter.acquireLocally(limit: name, key: key, now: now) else {
                        return .askGlobal(limiter, name: name, key: key, limit: limit)
                    }
                    if let refusal = globalAnswered(decision, limit, policies) { return .refuse(refusal) }
                }

            case .pace:
                step = .protection
                if paceDelay > .zero {
                    stats.paced.wrappingIncrement(ordering: .relaxed)
                    marks.insert(.paced)
                    defer { paceDelay = .zero }
                    return .wait(paceDelay)
                }

            case .protection:
                step = .degrade
                guard let protection = policies.protection else { continue }
                guard protection.admit(priority: traffic?.priority ?? .normal, now: now) else {
                    stats.shed.wrappingIncrement(ordering: .relaxed)
                    marks.insert(.shed)
                    return .refuse(.degraded(.overload, retryAfter: .seconds(1)))
                }
                ticket.protection = protection

            case .degrade:
                step = .routeBreaker
                guard let traffic else { continue }
                ticket.route = traffic
                if traffic.manualSwitch.isOn { return .refuse(.degraded(.manual, retryAfter: .seconds(30))) }
                for (index, rule) in traffic.degradeRules.enumerated() {
                    switch rule.admit(now: now) {
                    case .pass: break
                    case .probe: ticket.probes.append(index)
                    case .degraded(let retryAfter): return .refuse(.degraded(.rule, retryAfter: retryAfter))
                    }
                }

            case .routeBreaker:
                step = .routeAdaptive
                guard let traffic, let breaker = traffic.breaker else { continue }
                switch Self.admit(breaker, of: "route \(traffic.name)", now: now, policies) {
                case .success(let permit): ticket.routeBreaker = permit
                case .failure(let refusal): return .refuse(refusal)
                }

            case .routeAdaptive:
                step = .upstream
                guard let limiter = traffic?.adaptive else { continue }
                switch Self.admit(limiter, "over the route's concurrency limit\n", now: now, policies) {
                case .success(let permit): ticket.routeAdaptive = permit
                case .failure(let refusal): return .refuse(refusal)
                }

            case .upstream:
                step = .passed
                guard let upstream = policies.upstream else { return .pass }
                return upstreamGates(upstream, priority: traffic?.priority ?? .normal, now: now, policies)

            case .passed:
                return .pass
            }
        }
    }

    /// The upstream's own gates: degrade rules up to the route's priority, breaker, `max_requests`, adaptive limit.
    private mutating func upstreamGates(
        _ upstream: UpstreamTraffic, priority: RoutePriority, now: Duration, _ policies: Policies
    ) -> Verdict {
        let stats = policies.stats
        ticket.upstream = upstream
        for (index, entry) in upstream.degradeRules.enumerated() where priority <= entry.shedUpTo {
            switch entry.rule.admit(now: now) {
            case .pass: break
            case .probe: ticket.upstreamProbes.append(index)
            case .degraded(let retryAfter):
                return .refuse(.degraded(.upstreamRule, retryAfter: retryAfter))
            }
        }
        if let breaker = upstream.breaker {
            switch Self.admit(breaker, of: "upstream \(upstream.name)", now: now, policies) {
            case .success(let permit): ticket.upstreamBreaker = permit
            case .failure(let refusal): return .refuse(refusal)
            }
        }
        if let cap = upstream.maxRequests {
            guard cap.tryAcquire() else {
                stats.overflow.wrappingIncrement(ordering: .relaxed)
                return .refuse(.overLimit(message: "upstream max_requests reached\n"))
            }
            ticket.maxRequests = cap
        }
        if let limiter = upstream.adaptive {
            switch Self.admit(limiter, "over the upstream's concurrency limit\n", now: now, policies) {
            case .success(let permit): ticket.upstreamAdaptive = permit
            case .failure(let refusal): return .refuse(refusal)
            }
        }
        return .pass
    }

    /// A breaker's admission (its change of state logged and counted), or the refusal when it is open.
    private static func admit(
        _ breaker: SharedCircuitBreaker, of owner: @autoclosure () -> String, now: Duration, _ policies: Policies
    ) -> Result<CircuitPermit, Refusal> {
        let (admission, transition) = breaker.tryAcquireReporting(now: now)
        TrafficTicket.report(transition, of: owner(), stats: policies.stats, logger: policies.logger)
        switch admission {
        case .permitted(let permit):
            return .success(permit)
        case .rejected(let retryAfter):
            policies.stats.breakerRejected.wrappingIncrement(ordering: .relaxed)
            return .failure(.degraded(.breaker, retryAfter: retryAfter))
        }
    }

    /// An adaptive concurrency limit's permit, or the refusal (with `message`) when the limit is reached.
    private static func admit(
        _ limiter: AdaptiveConcurrencyLimiter, _ message: String, now: Duration, _ policies: Policies
    ) -> Result<AdaptivePermit, Refusal> {
        guard let permit = limiter.tryAcquire(now: now) else {
            policies.stats.adaptiveRejected.wrappingIncrement(ordering: .relaxed)
            return .failure(.overLimit(message: message))
        }
        return .success(permit)
    }

    /// One local bucket's decision: nil to go on, or the 429.
    private mutating func apply(
        _ decision: RateLimitDecision, _ limit: CompiledRateLimit, _ policies: Policies
    ) -> Refusal? {
        switch decision {
        case .allowed:
            return nil
        case .delayed(let wait, _, _):
            paceDelay = max(paceDelay, wait)
            return nil
        case .limited:
            if limit.config.shadow {
                policies.stats.rateLimitedShadow.wrappingIncrement(ordering: .relaxed)
                marks.insert(.shadow)
                limit.logShadow(route: policies.routeName, logger: policies.logger)
                return nil
            }
            policies.stats.rateLimited.wrappingIncrement(ordering: .relaxed)
            marks.insert(.limited)
            return .rateLimited(fields: RateLimitHeaders.fields(limit: limit.policy, decision: decision))
        }
    }

    /// A global limit's decision: nil to go on (run again), or the 429.
    mutating func globalAnswered(
        _ decision: GlobalRateLimitDecision, _ limit: CompiledRateLimit, _ policies: Policies
    ) -> Refusal? {
        switch decision {
        case .allowed:
            return nil
        case .failOpen:
            policies.stats.globalFailOpen.wrappingIncrement(ordering: .relaxed)
            return nil
        case .limited(let retryAfter):
            if limit.config.shadow {
                policies.stats.rateLimitedShadow.wrappingIncrement(ordering: .relaxed)
                marks.insert(.shadow)
                limit.logShadow(route: policies.routeName, logger: policies.logger)
                return nil
            }
            policies.stats.rateLimited.wrappingIncrement(ordering: .relaxed)
            marks.insert(.limited)
            return .rateLimited(
                fields: RateLimitHeaders.fields(
                    limit: limit.policy, decision: .limited(retryAfter: retryAfter, reset: retryAfter)))
        }
    }

    /// The bucket key of a keyed limit: the client's address or a header's value ("" when absent), capped so a
    /// client cannot make the limiter keep arbitrarily long keys.
    static func key(
        _ key: RateLimitConfig.Key, header: (String) -> String?, clientIP: () -> String,
        identity: () -> String? = { nil }
    ) -> String {
        switch key {
        case .route:
            return ""
        case .header(let name):
            guard let value = header(name) else { return "" }
            return value.utf8.count <= 256 ? value : String(decoding: value.utf8.prefix(256), as: UTF8.self)
        case .clientIP:
            return clientIP()
        case .identity:
            return identity() ?? ""
        }
    }
}
