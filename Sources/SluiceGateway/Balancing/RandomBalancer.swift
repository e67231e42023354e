/// Weighted random choice over the eligible servers: server `i` is picked with probability `weight[i] / Σ eligible
/// weights`. Stateless between picks, so it needs no coordination across event loops.
struct RandomBalancer: Sendable {
    /// The configured weights, one per server; a weight of 0 or less is never picked.
    let weights: [Int]

    init(weights: [Int]) {
        self.weights = weights
    }

    /// A server among those whose `eligible` entry is true, or nil when none is (or all of them weigh nothing).
    func pick(eligible: [Bool], using rng: inout some RandomNumberGenerator) -> Int? {
        precondition(eligible.count == weights.count, "one eligibility flag per server")
        var total: UInt64 = 0
        for index in weights.indices where eligible[index] && weights[index] > 0 { total += UInt64(weights[index]) }
        guard total > 0 else { return nil }
        var target = UInt64.random(in: 0..<total, using: &rng)
        for index in weights.indices where eligible[index] && weights[index] > 0 {
            let weight = UInt64(weights[index])
            if target < weight { return index }
            target -= weight
        }
        preconditionFailure("target beyond the total weight")
    }
}
