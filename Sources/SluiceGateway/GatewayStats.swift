public import Atomics

/// Counters of what the gateway did, for logs, tests and (later) metrics. Lock-free; shared by all event loops.
public final class GatewayStats: Sendable {
    /// Requests received from clients.
    public let requests = ManagedAtomic(0)
    /// Responses relayed from an upstream.
    public let upstreamResponses = ManagedAtomic(0)
    /// Answers the gateway made itself, by reason.
    public let notFound = ManagedAtomic(0)
    public let badGateway = ManagedAtomic(0)
    public let serviceUnavailable = ManagedAtomic(0)
    public let gatewayTimeout = ManagedAtomic(0)
    /// Tries repeated on another server.
    public let retries = ManagedAtomic(0)
    /// TCP connects to upstreams that failed.
    public let connectFailures = ManagedAtomic(0)
    /// Exchanges cut off after the response had started (upstream or client went away, idle timeout).
    public let aborted = ManagedAtomic(0)

    public init() {}

    /// A one-line summary, for `STATUS=` and logs.
    public var summary: String {
        "requests=\(requests.load(ordering: .relaxed)) 502=\(badGateway.load(ordering: .relaxed)) "
            + "503=\(serviceUnavailable.load(ordering: .relaxed)) 504=\(gatewayTimeout.load(ordering: .relaxed)) "
            + "retries=\(retries.load(ordering: .relaxed))"
    }
}
