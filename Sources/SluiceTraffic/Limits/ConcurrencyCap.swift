import Synchronization

/// A hard cap on things in flight to one upstream — connections, pending requests or active requests, Envoy's
/// circuit-breaker thresholds `max_connections`, `max_pending_requests` and `max_requests`. Lock-free: a
/// compare-and-swap loop on one atomic counter, so the count never goes above `limit`, even for a moment.
///
/// Unlike Envoy, whose thresholds are checked and incremented separately (and so may overshoot slightly under
/// concurrency), `tryAcquire` is exact. A `release` without a matching successful `tryAcquire` is a caller bug;
/// it is ignored when the count is already zero, so the count never goes negative.
public final class ConcurrencyCap: Sendable {
    public let limit: Int
    private let count = Atomic<Int>(0)

    /// `limit` 0 refuses everything.
    public init(limit: Int) {
        precondition(limit >= 0, "the limit is not negative")
        self.limit = limit
    }

    /// Takes one unit if fewer than `limit` are taken; each `true` must be paired with one `release`.
    public func tryAcquire() -> Bool {
        var current = count.load(ordering: .relaxed)
        while current < limit {
            let (exchanged, original) = count.compareExchange(
                expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Gives one unit back.
    public func release() {
        var current = count.load(ordering: .relaxed)
        while current > 0 {
            let (exchanged, original) = count.compareExchange(
                expected: current, desired: current - 1, ordering: .acquiringAndReleasing)
            if exchanged { return }
            current = original
        }
    }

    /// Units taken now.
    public var current: Int { count.load(ordering: .relaxed) }
}
