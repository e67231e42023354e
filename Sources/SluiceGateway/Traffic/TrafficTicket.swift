import Logging
import SluiceTraffic

/// What one request holds from the traffic gates — concurrency slots, breaker permits, degrade probes — and gives
/// back, exactly once, when it ends. Owned by the request's `ProxyHandler` on its event loop.
struct TrafficTicket {
    /// How the request ended, as the policies see it.
    enum Outcome {
        /// The upstream answered with this status after `latency`.
        case answered(status: Int, latency: Duration)
        /// No answer: connect failure, reset, timeout (`latency` until the gateway gave up).
        case failed(latency: Duration)
        /// Nothing was learned about the upstream: refused by a later gate, client gone, answered locally.
        case abandoned
    }

    var route: RouteTraffic?
    var upstream: UpstreamTraffic?
    var protection: SystemProtection?
    var routeAdaptive: AdaptivePermit?
    var upstreamAdaptive: AdaptivePermit?
    var routeBreaker: CircuitPermit?
    var upstreamBreaker: CircuitPermit?
    var maxRequests: ConcurrencyCap?
    /// Degrade rules of the route this request probes (half-open trial), by index.
    var probes: [Int] = []
    /// The same for the upstream's degrade rules.
    var upstreamProbes: [Int] = []
    /// Whether any gate recorded anything that needs settling.
    var isEmpty: Bool {
        protection == nil && routeAdaptive == nil && upstreamAdaptive == nil && routeBreaker == nil
            && upstreamBreaker == nil && maxRequests == nil && probes.isEmpty && route == nil && upstream == nil
    }

    /// Settles everything the request holds. Safe to call twice (the second call finds nothing).
    mutating func settle(_ outcome: Outcome, now: Duration, stats: GatewayStats, logger: Logger) {
        let failed: Bool
        let latency: Duration?
        switch outcome {
        case .answered(let status, let time):
            failed = status >= 500
            latency = time
        case .failed(let time):
            failed = true
            latency = time
        case .abandoned:
            failed = false
            latency = nil
        }
        if let protection {
            if let latency, !failed { protection.complete(rtt: latency, now: now) } else { protection.abandon(now: now) }
            self.protection = nil
        }
        // The adaptive limiters sample answers; overload signs (no answer, 503, 504, 429) shrink the limit; a
        // request that learned nothing just gives its slot back.
        let overloaded: Bool
        switch outcome {
        case .answered(let status, _): overloaded = status == 503 || status == 504 || status == 429
        case .failed: overloaded = true
        case .abandoned: overloaded = false
        }
        let sample: Duration? = if case .answered(let status, let time) = outcome, status < 500 { time } else { nil }
        for (permit, limiter) in [(routeAdaptive, route?.adaptive), (upstreamAdaptive, upstream?.adaptive)] {
            guard let permit, let limiter else { continue }
            if let sample {
                limiter.complete(permit, rtt: sample, now: now)
            } else {
                limiter.drop(permit, overloaded: overloaded, now: now)
            }
        }
        routeAdaptive = nil
        upstreamAdaptive = nil
        if let permit = routeBreaker, let breaker = route?.breaker {
            let transition = latency.map { breaker.record(permit, failed: failed, duration: $0, now: now) }
                ?? breaker.release(permit, now: now)
            Self.report(transition, of: "route \(route?.name ?? "")", stats: stats, logger: logger)
            routeBreaker = nil
        }
        if let permit = upstreamBreaker, let breaker = upstream?.breaker {
            let transition = latency.map { breaker.record(permit, failed: failed, duration: $0, now: now) }
                ?? breaker.release(permit, now: now)
            Self.report(transition, of: "upstream \(upstream?.name ?? "")", stats: stats, logger: logger)
            upstreamBreaker = nil
        }
        if let upstream, !upstream.degradeRules.isEmpty, let latency {
            for (index, entry) in upstream.degradeRules.enumerated() {
                let probe = upstreamProbes.contains(index)
                if let transition = entry.rule.record(latency: latency, failed: failed, probe: probe, now: now) {
                    logger.notice(
                        "degrade rule changed state",
                        metadata: ["upstream": "\(upstream.name)", "from": "\(transition.from)", "to": "\(transition.to)",
                                   "reason": "\(transition.reason)"])
                }
            }
        }
        upstreamProbes.removeAll()
        if let cap = maxRequests {
            cap.release()
            maxRequests = nil
        }
        if let route {
            // Every answered request feeds the route's degrade rules; the probes learn their verdict.
            if let latency {
                for (index, rule) in route.degradeRules.enumerated() {
                    let probe = probes.contains(index)
                    if let transition = rule.record(latency: latency, failed: failed, probe: probe, now: now) {
                        logger.notice(
                            "degrade rule changed state",
                            metadata: ["route": "\(route.name)", "from": "\(transition.from)", "to": "\(transition.to)",
                                       "reason": "\(transition.reason)"])
                    }
                }
            }
            // A probe that learned nothing (client gone, refused by a later gate) is not reported: the rule lets
            // another probe through after `recovery`, so it cannot stick.
            probes.removeAll()
            self.route = nil
        }
        upstream = nil
    }

    /// Logs and counts a breaker's change of state. `owner` is only formatted when there is a change to log.
    static func report(
        _ transition: CircuitTransition?, of owner: @autoclosure () -> String, stats: GatewayStats, logger: Logger
    ) {
        guard let transition else { return }
        if transition.to == .open { stats.breakerOpened.wrappingIncrement(ordering: .relaxed) }
        logger.notice(
            "circuit breaker changed state",
            metadata: ["breaker": "\(owner())", "from": "\(transition.from.rawValue)", "to": "\(transition.to.rawValue)",
                       "reason": "\(transition.reason)"])
    }
}
