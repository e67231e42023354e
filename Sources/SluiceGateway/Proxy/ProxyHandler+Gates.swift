import Logging
import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceRedis
import SluiceRouter
import SluiceServer
import SluiceTraffic

// MARK: Phase: gates

extension ProxyHandler {
    /// Runs the request's gates (`RequestGates`) from where they stopped and carries out their verdict.
    func runGates() {
        guard let context, let clientHead else { return }
        let policies = RequestGates.Policies(
            route: route?.traffic, routeName: route?.name ?? "", upstream: upstream?.traffic,
            protection: state?.protection, stats: shared.stats, logger: shared.logger)
        let headers = clientHead.headers
        let identity = self.identity
        let verdict = gates.run(
            now: TrafficClock.now(), policies,
            header: { headers.first(name: $0) },
            clientIP: { resolvedClientAddress(head: clientHead, context: context) }, identity: { identity },
            random: &random)
        let expected = sequence
        switch verdict {
        case .pass:
            proceed()
        case .refuse(let refusal):
            refuse(refusal)
        case .wait(let delay):
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
                guard expected == sequence, machine.phase == .gating else { return }
                runGates()
            }
        case .refuseAfter(let delay, let refusal):
            context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
                guard expected == sequence, machine.phase == .gating else { return }
                refuse(refusal)
            }
        case .askGlobal(let limiter, let name, let key, let limit):
            limiter.acquire(
                limit: name, key: key, count: limit.config.count, period: limit.config.period,
                burst: limit.config.burst, now: TrafficClock.now(), on: context.eventLoop
            ).assumeIsolated().whenComplete { [self] result in
                guard expected == sequence, machine.phase == .gating else { return }
                let decision = (try? result.get()) ?? .failOpen
                if let refusal = gates.globalAnswered(decision, limit, policies) {
                    refuse(refusal)
                } else {
                    runGates()
                }
            }
        }
    }

    /// Answers a request a gate refused.
    func refuse(_ refusal: RequestGates.Refusal) {
        switch refusal {
        case .fault(let status):
            answer(HTTPResponseStatus(statusCode: status), "fault injected\n", extra: [("sluice-fault", "abort")])
        case .rateLimited(let fields):
            answer(.tooManyRequests, "rate limit exceeded\n", extra: fields.map { ($0.name, $0.value) })
        case .degraded(let cause, let retryAfter):
            if cause == .breaker { gates.marks.insert(.breaker) }
            answerDegraded(route?.traffic, cause: cause, retryAfter: retryAfter)
        case .overLimit(let message):
            gates.marks.insert(.overLimit)
            answer(.serviceUnavailable, message)
        }
    }

    /// The client's address once `trusted_proxies` were applied, resolved once per request.
    func resolvedClientAddress(head: HTTPRequestHead, context: ChannelHandlerContext) -> String {
        if let resolvedClientIP { return resolvedClientIP }
        let proxies = (state ?? shared.state).trustedProxies
        let resolved: String
        if proxies.ranges.isEmpty || !head.headers.contains(name: "x-forwarded-for") {
            // Only the peer counts: the same for every request of the connection, worked out once.
            if let peer = canonicalPeer {
                resolved = peer
            } else {
                resolved = proxies.clientAddress(peer: clientAddress(context) ?? "", forwardedFor: [])
                canonicalPeer = resolved
            }
        } else {
            resolved = proxies.clientAddress(peer: clientAddress(context) ?? "", forwardedFor: head.headers["x-forwarded-for"])
        }
        resolvedClientIP = resolved
        return resolved
    }

    /// Answers with the route's fallback, or 503 with `Retry-After`; marked `Sluice-Degraded: 1` and counted.
    func answerDegraded(_ traffic: RouteTraffic?, cause: DegradeCause, retryAfter: Duration) {
        shared.stats.degraded.wrappingIncrement(ordering: .relaxed)
        gates.marks.insert(.degraded)
        route?.metrics?.record(degraded: cause)
        var extra = [("sluice-degraded", "1")]
        if let fallback = traffic?.fallback {
            answer(HTTPResponseStatus(statusCode: fallback.status), contentType: fallback.contentType, body: fallback.body, extra: extra)
            return
        }
        let seconds = max(1, RateLimitHeaders.secondsRoundedUp(retryAfter))
        extra.append(("retry-after", String(seconds)))
        answer(.serviceUnavailable, "service degraded (\(cause.reason))\n", extra: extra)
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
            return ProxyHeaders.cookie(name, in: head.headers).map { KeyHash.hash($0) }
        }
    }
}
