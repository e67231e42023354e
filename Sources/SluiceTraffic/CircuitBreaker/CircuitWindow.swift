/// The closed state's sliding window: a count ring or one-second time buckets, per `CircuitBreakerPolicy.Window`.
struct CircuitWindow: Sendable {
    // Two optionals rather than an enum with payloads so that mutation happens in place (no copy of the arrays).
    private var ring: OutcomeRing?
    private var buckets: OutcomeBuckets?
    /// The fewest calls the window must hold before it is judged.
    let minimumCalls: Int

    init(_ window: CircuitBreakerPolicy.Window, minCalls: Int) {
        switch window {
        case .calls(let count):
            ring = OutcomeRing(capacity: count)
            minimumCalls = min(minCalls, count)
        case .time(let span):
            let seconds = RateLimitHeaders.secondsRoundedUp(span)
            buckets = OutcomeBuckets(window: span, buckets: Int(min(max(seconds, 1), 3_600)))
            minimumCalls = minCalls
        }
    }

    mutating func record(failed: Bool, slow: Bool, now: Duration) {
        ring?.record(failed: failed, slow: slow)
        buckets?.record(failed: failed, slow: slow, now: now)
    }

    func totals(now: Duration) -> OutcomeCounts {
        if let ring { return ring.counts }
        return buckets?.totals(now: now) ?? OutcomeCounts()
    }

    mutating func reset() {
        ring?.reset()
        buckets?.reset()
    }
}
