/// A count-based sliding window: the outcomes of the last `capacity` calls (resilience4j's
/// `FixedSizeSlidingWindowMetrics`), with running totals so that recording and reading are O(1).
struct OutcomeRing: Sendable {
    let capacity: Int
    private var slots: [UInt8]
    private var next = 0
    private var filled = 0
    private(set) var counts = OutcomeCounts()

    private static let failedBit: UInt8 = 1
    private static let slowBit: UInt8 = 2

    init(capacity: Int) {
        precondition(capacity >= 1)
        self.capacity = capacity
        self.slots = Array(repeating: 0, count: capacity)
    }

    mutating func record(failed: Bool, slow: Bool) {
        if filled == capacity {
            let evicted = slots[next]
            counts.calls -= 1
            if evicted & Self.failedBit != 0 { counts.failures -= 1 }
            if evicted & Self.slowBit != 0 { counts.slow -= 1 }
        } else {
            filled += 1
        }
        slots[next] = (failed ? Self.failedBit : 0) | (slow ? Self.slowBit : 0)
        next = next + 1 == capacity ? 0 : next + 1
        counts.add(failed: failed, slow: slow)
    }

    /// Forgets every call (the slots are rewritten before they are read again).
    mutating func reset() {
        next = 0
        filled = 0
        counts = OutcomeCounts()
    }
}
