/// What the traffic gates did to one request, noted as they run: the access log's `gates=` field and the
/// rate-limit and degrade metrics read it once the request is over.
struct GateMarks: OptionSet, Sendable {
    let rawValue: UInt16

    /// Refused by a rate limit (429).
    static let limited = GateMarks(rawValue: 1 << 0)
    /// Over a `mode=shadow` limit: let through.
    static let shadow = GateMarks(rawValue: 1 << 1)
    /// Held back by `pace=`.
    static let paced = GateMarks(rawValue: 1 << 2)
    /// Shed by `[protection]`.
    static let shed = GateMarks(rawValue: 1 << 3)
    /// Answered degraded (fallback or 503).
    static let degraded = GateMarks(rawValue: 1 << 4)
    /// Refused by an open circuit breaker.
    static let breaker = GateMarks(rawValue: 1 << 5)
    /// Refused by a concurrency limit (adaptive, `max_requests`).
    static let overLimit = GateMarks(rawValue: 1 << 6)
    /// A fault was injected (delay or abort).
    static let fault = GateMarks(rawValue: 1 << 7)
    /// Refused by the route's `auth` (401, 403, or the auth service's answer).
    static let authRefused = GateMarks(rawValue: 1 << 8)

    static let names: [(GateMarks, String)] = [
        (.limited, "limited"), (.shadow, "shadow"), (.paced, "paced"), (.shed, "shed"), (.degraded, "degraded"),
        (.breaker, "breaker"), (.overLimit, "over_limit"), (.fault, "fault"), (.authRefused, "auth"),
    ]

    /// `limited,degraded`, or `-` for none.
    var text: String {
        guard !isEmpty else { return "-" }
        return Self.names.filter { contains($0.0) }.map(\.1).joined(separator: ",")
    }

    /// What the rate limits decided, for the route's metrics.
    var rateLimitOutcome: RouteMetrics.RateLimitOutcome {
        if contains(.limited) { return .limited }
        if contains(.shadow) { return .shadow }
        if contains(.paced) { return .paced }
        return .allowed
    }
}
