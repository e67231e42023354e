public import Atomics

/// Counters of what the gateway did, for logs, tests and (later) metrics. Lock-free; shared by all event loops.
public final class GatewayStats: Sendable {
    /// Requests received from clients.
    public let requests = ManagedAtomic(0)
    /// Upgraded connections (WebSocket) opened, and open now.
    public let tunnels = ManagedAtomic(0)
    public let tunnelsOpen = ManagedAtomic(0)
    /// Responses relayed from an upstream.
    public let upstreamResponses = ManagedAtomic(0)
    /// Answers the gateway made itself, by reason.
    public let notFound = ManagedAtomic(0)
    /// Requests refused by the gateway for their path or method (bad path, TRACE): 400/405.
    public let badRequests = ManagedAtomic(0)
    /// Requests refused by a route's `allow`/`deny` (403).
    public let accessDenied = ManagedAtomic(0)
    public let badGateway = ManagedAtomic(0)
    public let serviceUnavailable = ManagedAtomic(0)
    public let gatewayTimeout = ManagedAtomic(0)
    /// Tries repeated on another server.
    public let retries = ManagedAtomic(0)
    /// TCP connects to upstreams that failed.
    public let connectFailures = ManagedAtomic(0)
    /// Exchanges cut off after the response had started (upstream or client went away, idle timeout).
    public let aborted = ManagedAtomic(0)

    // Traffic control.
    /// Answered 429 by a rate limit.
    public let rateLimited = ManagedAtomic(0)
    /// Over a `mode=shadow` limit: counted and logged, let through.
    public let rateLimitedShadow = ManagedAtomic(0)
    /// Held back by `pace=` before going on.
    public let paced = ManagedAtomic(0)
    /// Shed by `[protection]`.
    public let shed = ManagedAtomic(0)
    /// Answered with the route's fallback or a degraded 503 (by a degrade rule, a manual switch, an open breaker or
    /// protection).
    public let degraded = ManagedAtomic(0)
    /// Refused at once by an open (or half-open and full) circuit breaker.
    public let breakerRejected = ManagedAtomic(0)
    /// Breakers that went to open.
    public let breakerOpened = ManagedAtomic(0)
    /// Refused by an adaptive concurrency limit.
    public let adaptiveRejected = ManagedAtomic(0)
    /// Refused by an upstream's `max_requests` or `max_pending`.
    public let overflow = ManagedAtomic(0)
    /// Faults injected: aborts and delays.
    public let faultAborts = ManagedAtomic(0)
    public let faultDelays = ManagedAtomic(0)
    /// Global rate-limit checks that let a request through because Redis did not answer.
    public let globalFailOpen = ManagedAtomic(0)

    /// Response bytes handed to gzip, and compressed bytes sent.
    public let gzipIn = ManagedAtomic(0)
    public let gzipOut = ManagedAtomic(0)

    public init() {}

    /// A one-line summary, for `STATUS=` and logs.
    public var summary: String {
        "requests=\(requests.load(ordering: .relaxed)) 502=\(badGateway.load(ordering: .relaxed)) "
            + "503=\(serviceUnavailable.load(ordering: .relaxed)) 504=\(gatewayTimeout.load(ordering: .relaxed)) "
            + "retries=\(retries.load(ordering: .relaxed)) 429=\(rateLimited.load(ordering: .relaxed)) "
            + "degraded=\(degraded.load(ordering: .relaxed))"
    }
}
