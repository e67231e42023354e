import Logging
import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceRedis
import SluiceRouter
import SluiceServer
import SluiceTraffic

// MARK: Traffic gates

/// Where a request is in the gates, in the order of `ARCHITECTURE.md`: fault injection, rate limits (and their
/// pacing), system protection, degrade rules, the route's breaker and adaptive limit, then the upstream's.
enum GateStep: Equatable {
    case fault
    case rateLimit(Int)
    case pace
    case protection
    case degrade
    case routeBreaker
    case routeAdaptive
    case upstream
}

extension ProxyHandler {
    /// Runs the gates from `gateStep` on; stops to wait (a delay, a Redis answer) and resumes where it stopped.
    func runGates() {
        guard let route, let context, let clientHead else { return }
        let traffic = route.traffic
        let now = TrafficClock.now()
        while true {
            switch gateStep {
            case .fault:
                gateStep = .rateLimit(0)
                guard let fault = traffic?.fault else { continue }
                let action = fault.decide(
                    delayHeader: fault.headerControl ? clientHead.headers.first(name: "sluice-fault-delay") : nil,
                    abortHeader: fault.headerControl ? clientHead.headers.first(name: "sluice-fault-abort") : nil,
                    using: &random)
                switch action {
                case .none:
                    continue
                case .abort(let status):
                    shared.stats.faultAborts.wrappingIncrement(ordering: .relaxed)
                    return answer(HTTPResponseStatus(statusCode: status), "fault injected\n", extra: [("sluice-fault", "abort")])
                case .delay(let delay):
                    shared.stats.faultDelays.wrappingIncrement(ordering: .relaxed)
                    return resumeGates(after: delay)
                case .delayThenAbort(let delay, let status):
                    shared.stats.faultDelays.wrappingIncrement(ordering: .relaxed)
                    shared.stats.faultAborts.wrappingIncrement(ordering: .relaxed)
                    let expected = sequence
                    context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
                        guard expected == sequence, machine.phase == .gating else { return }
                        answer(HTTPResponseStatus(statusCode: status), "fault injected\n", extra: [("sluice-fault", "abort")])
                    }
                    return
                }

            case .rateLimit(let index):
                guard let limits = traffic?.rateLimits, index < limits.count else {
                    gateStep = .pace
                    continue
                }
                gateStep = .rateLimit(index + 1)
                let limit = limits[index]
                switch limit.store {
                case .route(let bucket):
                    guard applyRateDecision(bucket.acquire(now: now), limit) else { return }
                case .keyed(let table):
                    let key = rateLimitKey(limit.config.key, head: clientHead, context: context)
                    guard applyRateDecision(table.acquire(key: key, now: now), limit) else { return }
                case .global(let limiter, let name):
                    let key = rateLimitKey(limit.config.key, head: clientHead, context: context)
                    if let decision = limiter.acquireLocally(limit: name, key: key, now: now) {
                        guard applyGlobalDecision(decision, limit) else { return }
                        continue
                    }
                    let expected = sequence
                    limiter.acquire(
                        limit: name, key: key, count: limit.config.count, period: limit.config.period,
                        burst: limit.config.burst, now: now, on: context.eventLoop
                    ).assumeIsolated().whenComplete { [self] result in
                        guard expected == sequence, machine.phase == .gating else { return }
                        let decision = (try? result.get()) ?? .failOpen
                        if applyGlobalDecision(decision, limit) { runGates() }
                    }
                    return
                }

            case .pace:
                gateStep = .protection
                if paceDelay > .zero {
                    shared.stats.paced.wrappingIncrement(ordering: .relaxed)
                    let delay = paceDelay
                    paceDelay = .zero
                    return resumeGates(after: delay)
                }

            case .protection:
                gateStep = .degrade
                guard let protection = state?.protection else { continue }
                if protection.admit(priority: traffic?.priority ?? .normal, now: now) {
                    ticket.protection = protection
                } else {
                    shared.stats.shed.wrappingIncrement(ordering: .relaxed)
                    return answerDegraded(traffic, reason: "overload", retryAfter: .seconds(1))
                }

            case .degrade:
                gateStep = .routeBreaker
                guard let traffic else { continue }
                ticket.route = traffic
                if traffic.manualSwitch.isOn {
                    return answerDegraded(traffic, reason: "manual", retryAfter: .seconds(30))
                }
                for (index, rule) in traffic.degradeRules.enumerated() {
                    switch rule.admit(now: now) {
                    case .pass: break
                    case .probe: ticket.probes.append(index)
                    case .degraded(let retryAfter):
                        return answerDegraded(traffic, reason: "degrade rule", retryAfter: retryAfter)
                    }
                }

            case .routeBreaker:
                gateStep = .routeAdaptive
                guard let traffic, let breaker = traffic.breaker else { continue }
                let (admission, transition) = breaker.tryAcquireReporting(now: now)
                TrafficTicket.report(transition, of: "route \(traffic.name)", stats: shared.stats, logger: shared.logger)
                switch admission {
                case .permitted(let permit): ticket.routeBreaker = permit
                case .rejected(let retryAfter):
                    shared.stats.breakerRejected.wrappingIncrement(ordering: .relaxed)
                    return answerDegraded(traffic, reason: "circuit open", retryAfter: retryAfter)
                }

            case .routeAdaptive:
                gateStep = .upstream
                guard let limiter = traffic?.adaptive else { continue }
                guard let permit = limiter.tryAcquire(now: now) else {
                    shared.stats.adaptiveRejected.wrappingIncrement(ordering: .relaxed)
                    return answer(.serviceUnavailable, "over the route's concurrency limit\n")
                }
                ticket.routeAdaptive = permit

            case .upstream:
                guard let upstreamTraffic = upstream?.traffic else { return proceed() }
                ticket.upstream = upstreamTraffic
                let priority = traffic?.priority ?? .normal
                for (index, entry) in upstreamTraffic.degradeRules.enumerated() where priority <= entry.shedUpTo {
                    switch entry.rule.admit(now: now) {
                    case .pass: break
                    case .probe: ticket.upstreamProbes.append(index)
                    case .degraded(let retryAfter):
                        return answerDegraded(traffic, reason: "upstream degrade rule", retryAfter: retryAfter)
                    }
                }
                if let breaker = upstreamTraffic.breaker {
                    let (admission, transition) = breaker.tryAcquireReporting(now: now)
                    TrafficTicket.report(
                        transition, of: "upstream \(upstreamTraffic.name)", stats: shared.stats, logger: shared.logger)
                    switch admission {
                    case .permitted(let permit): ticket.upstreamBreaker = permit
                    case .rejected(let retryAfter):
                        shared.stats.breakerRejected.wrappingIncrement(ordering: .relaxed)
                        return answerDegraded(traffic, reason: "circuit open", retryAfter: retryAfter)
                    }
                }
                if let cap = upstreamTraffic.maxRequests {
                    guard cap.tryAcquire() else {
                        shared.stats.overflow.wrappingIncrement(ordering: .relaxed)
                        return answer(.serviceUnavailable, "upstream max_requests reached\n")
                    }
                    ticket.maxRequests = cap
                }
                if let limiter = upstreamTraffic.adaptive {
                    guard let permit = limiter.tryAcquire(now: now) else {
                        shared.stats.adaptiveRejected.wrappingIncrement(ordering: .relaxed)
                        return answer(.serviceUnavailable, "over the upstream's concurrency limit\n")
                    }
                    ticket.upstreamAdaptive = permit
                }
                return proceed()
            }
        }
    }

    /// Continues the gates after `delay` (fault delay or pacing), unless the request ended meanwhile.
    func resumeGates(after delay: Duration) {
        guard let context else { return }
        let expected = sequence
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            guard expected == sequence, machine.phase == .gating else { return }
            runGates()
        }
    }

    /// Applies one local bucket's decision: false when the request was answered 429.
    func applyRateDecision(_ decision: RateLimitDecision, _ limit: CompiledRateLimit) -> Bool {
        switch decision {
        case .allowed:
            return true
        case .delayed(let wait, _, _):
            paceDelay = max(paceDelay, wait)
            return true
        case .limited:
            if limit.config.shadow {
                shared.stats.rateLimitedShadow.wrappingIncrement(ordering: .relaxed)
                limit.logShadow(route: route?.name ?? "", logger: shared.logger)
                return true
            }
            shared.stats.rateLimited.wrappingIncrement(ordering: .relaxed)
            let fields = RateLimitHeaders.fields(limit: limit.policy, decision: decision)
            answer(.tooManyRequests, "rate limit exceeded\n", extra: fields.map { ($0.name, $0.value) })
            return false
        }
    }

    /// Applies a global limit's decision: false when the request was answered 429.
    func applyGlobalDecision(_ decision: GlobalRateLimitDecision, _ limit: CompiledRateLimit) -> Bool {
        switch decision {
        case .allowed:
            return true
        case .failOpen:
            shared.stats.globalFailOpen.wrappingIncrement(ordering: .relaxed)
            return true
        case .limited(let retryAfter):
            if limit.config.shadow {
                shared.stats.rateLimitedShadow.wrappingIncrement(ordering: .relaxed)
                limit.logShadow(route: route?.name ?? "", logger: shared.logger)
                return true
            }
            shared.stats.rateLimited.wrappingIncrement(ordering: .relaxed)
            let fields = RateLimitHeaders.fields(
                limit: limit.policy, decision: .limited(retryAfter: retryAfter, reset: retryAfter))
            answer(.tooManyRequests, "rate limit exceeded\n", extra: fields.map { ($0.name, $0.value) })
            return false
        }
    }

    /// The bucket key of a keyed limit: the client's address or a header's value ("" when absent).
    func rateLimitKey(_ key: RateLimitConfig.Key, head: HTTPRequestHead, context: ChannelHandlerContext) -> String {
        switch key {
        case .route:
            return ""
        case .header(let name):
            // Capped, so a client cannot make the limiter keep arbitrarily long keys.
            guard let value = head.headers.first(name: name) else { return "" }
            return value.utf8.count <= 256 ? value : String(decoding: value.utf8.prefix(256), as: UTF8.self)
        case .clientIP:
            if let resolvedClientIP { return resolvedClientIP }
            let peer = clientAddress(context) ?? ""
            let resolved = (state ?? shared.state).trustedProxies.clientAddress(
                peer: peer, forwardedFor: head.headers["x-forwarded-for"])
            resolvedClientIP = resolved
            return resolved
        }
    }

    /// Answers with the route's fallback, or 503 with `Retry-After`; marked `Sluice-Degraded: 1` and counted.
    func answerDegraded(_ traffic: RouteTraffic?, reason: String, retryAfter: Duration) {
        shared.stats.degraded.wrappingIncrement(ordering: .relaxed)
        var extra = [("sluice-degraded", "1")]
        if let fallback = traffic?.fallback {
            answer(HTTPResponseStatus(statusCode: fallback.status), contentType: fallback.contentType, body: fallback.body, extra: extra)
            return
        }
        let seconds = max(1, RateLimitHeaders.secondsRoundedUp(retryAfter))
        extra.append(("retry-after", String(seconds)))
        answer(.serviceUnavailable, "service degraded (\(reason))\n", extra: extra)
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}

extension HTTPMethod {
    /// RFC 9110 §9.2.2.
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }
}

extension ProxyHandler {
    /// The request's consistent-hash key, hashed; nil when the request does not carry it (a random server then).
    func requestHash(_ key: HashKey, head: HTTPRequestHead, context: ChannelHandlerContext) -> UInt64? {
        switch key {
        case .clientIP:
            return clientAddress(context).map { KeyHash.hash($0) }
        case .path:
            return KeyHash.hash(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        case .header(let name):
            return head.headers.first(name: name).map { KeyHash.hash($0) }
        case .cookie(let name):
            for header in head.headers[canonicalForm: "cookie"] {
                for pair in header.split(separator: ";") {
                    let trimmed = pair.drop { $0 == " " }
                    if trimmed.hasPrefix(name + "=") { return KeyHash.hash(trimmed.dropFirst(name.count + 1)) }
                }
            }
            return nil
        }
    }
}
