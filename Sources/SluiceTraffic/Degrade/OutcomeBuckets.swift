/// A time-based sliding window of `OutcomeCounts`, kept as a ring of equal buckets (Sentinel's `LeapArray`,
/// resilience4j's `SlidingTimeWindowMetrics` with its one-second partial aggregations).
///
/// Bucket boundaries are aligned on the time origin: bucket `e` covers `[e × width, (e + 1) × width)`. The totals
/// at `now` sum the bucket holding `now` and the `buckets − 1` before it, so an outcome stays counted for between
/// `(buckets − 1) × width` and `buckets × width` — the usual granularity of a bucketed window. An outcome recorded
/// for an instant older than the newest bucket's window (time going backwards) is dropped rather than allowed to
/// overwrite a newer bucket.
struct OutcomeBuckets: Sendable {
    /// Width of one bucket, in nanoseconds.
    let bucketWidth: Int64
    private var epochs: [Int64]
    private var counts: [OutcomeCounts]

    private static let empty = Int64.min

    /// `window` split into `buckets` buckets of `window ÷ buckets` (whole nanoseconds, rounded down).
    init(window: Duration, buckets: Int) {
        let nanos = window.wholeNanoseconds
        precondition(buckets >= 1, "a window has at least one bucket")
        precondition(nanos >= Int64(buckets), "each bucket must be at least 1 ns wide")
        self.bucketWidth = nanos / Int64(buckets)
        self.epochs = Array(repeating: Self.empty, count: buckets)
        self.counts = Array(repeating: OutcomeCounts(), count: buckets)
    }

    var bucketCount: Int { epochs.count }

    /// The span actually covered: `bucketWidth × bucketCount`.
    var span: Duration { .nanoseconds(bucketWidth * Int64(epochs.count)) }

    mutating func record(failed: Bool, slow: Bool, now: Duration) {
        let epoch = epoch(of: now)
        let slot = slot(of: epoch)
        if epochs[slot] == epoch {
            counts[slot].add(failed: failed, slow: slow)
        } else if epochs[slot] < epoch {
            epochs[slot] = epoch
            counts[slot] = OutcomeCounts()
            counts[slot].add(failed: failed, slow: slow)
        }
        // Otherwise the slot already holds a newer bucket: `now` lies before the window, nothing to count.
    }

    func totals(now: Duration) -> OutcomeCounts {
        let newest = epoch(of: now)
        let (lowest, overflow) = newest.subtractingReportingOverflow(Int64(epochs.count))
        let floor = overflow ? Int64.min : lowest
        var total = OutcomeCounts()
        for slot in epochs.indices where epochs[slot] != Self.empty && epochs[slot] > floor && epochs[slot] <= newest {
            total += counts[slot]
        }
        return total
    }

    mutating func reset() {
        for slot in epochs.indices {
            epochs[slot] = Self.empty
            counts[slot] = OutcomeCounts()
        }
    }

    private func epoch(of now: Duration) -> Int64 {
        let nanos = now.wholeNanoseconds
        let quotient = nanos / bucketWidth
        return nanos < 0 && nanos % bucketWidth != 0 ? quotient - 1 : quotient
    }

    private func slot(of epoch: Int64) -> Int {
        let count = Int64(epochs.count)
        return Int(((epoch % count) + count) % count)
    }
}
