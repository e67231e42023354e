/// Calls, failed calls and slow calls counted over some window; the unit of account of `OutcomeBuckets`,
/// `OutcomeRing`, the circuit breaker and the degrade rules.
struct OutcomeCounts: Sendable, Equatable {
    var calls = 0
    var failures = 0
    var slow = 0

    mutating func add(failed: Bool, slow isSlow: Bool) {
        calls += 1
        if failed { failures += 1 }
        if isSlow { slow += 1 }
    }

    static func += (lhs: inout OutcomeCounts, rhs: OutcomeCounts) {
        lhs.calls += rhs.calls
        lhs.failures += rhs.failures
        lhs.slow += rhs.slow
    }

    /// `part` as a percentage of `calls`, 0 when there are no calls (for display; decisions compare exactly with
    /// `reaches` and `exceeds`).
    func percent(_ part: Int) -> Double {
        calls == 0 ? 0 : Double(part) * 100 / Double(calls)
    }

    /// `part × 100 ≥ threshold × calls`: multiplying instead of dividing keeps whole-number thresholds exact.
    func reaches(_ part: Int, percent threshold: Double) -> Bool {
        Double(part) * 100 >= threshold * Double(calls)
    }

    /// `part × 100 > threshold × calls`.
    func exceeds(_ part: Int, percent threshold: Double) -> Bool {
        Double(part) * 100 > threshold * Double(calls)
    }
}
