/// nginx's smooth weighted round robin (`ngx_http_upstream_get_peer` in `ngx_http_upstream_round_robin.c`).
///
/// On each pick every eligible server's `current` grows by its effective weight, the server with the largest `current`
/// wins (ties go to the lower index, as in nginx), and the winner's `current` drops by the sum of the effective weights.
/// Heavy servers are spread out instead of picked in a burst: weights 5, 1, 1 give `a a b a c a a`, not `a a a a a b c`.
///
/// Slow start: `pick(eligible:scale:)` takes a per-server scale in `0...1` and uses an effective weight of
/// `weight × scale`, floored at one fixed-point step (never zero, so a server just back still gets a trickle; a
/// floor of a whole weight point would make slow start do nothing for servers of weight 1). Weights are kept in fixed point (`unit` steps per weight point) so that a fractional
/// effective weight such as 2.5 is honoured; with every scale at 1 the sequence is exactly nginx's.
/// Ineligible servers are skipped and keep their `current`, as nginx does for down or failed peers.
struct SmoothWeightedRoundRobin: Sendable {
    /// Fixed-point steps per weight point.
    static let unit = 1024

    /// The configured weights, one per server, each at least 1.
    let weights: [Int]
    /// nginx's `current_weight`, in `unit` steps.
    private(set) var current: [Int]

    init(weights: [Int]) {
        precondition(weights.allSatisfy { $0 > 0 }, "weights must be positive")
        self.weights = weights
        self.current = Array(repeating: 0, count: weights.count)
    }

    var count: Int { weights.count }

    /// The next server among those whose `eligible` entry is true, or nil when none is.
    mutating func pick(eligible: [Bool]) -> Int? {
        precondition(eligible.count == weights.count, "one eligibility flag per server")
        var best: Int? = nil
        var total = 0
        for index in weights.indices where eligible[index] {
            let effective = weights[index] * Self.unit
            current[index] += effective
            total += effective
            if best == nil || current[index] > current[best!] { best = index }
        }
        if let best { current[best] -= total }
        return best
    }

    /// The next server, with each weight multiplied by `scale[i]` (clamped to `0...1`) and floored at 1: slow start
    /// for a server that has just come back.
    mutating func pick(eligible: [Bool], scale: [Double]) -> Int? {
        precondition(eligible.count == weights.count && scale.count == weights.count, "one flag and scale per server")
        var best: Int? = nil
        var total = 0
        for index in weights.indices where eligible[index] {
            let effective = Self.effectiveWeight(weights[index], scale: scale[index])
            current[index] += effective
            total += effective
            if best == nil || current[index] > current[best!] { best = index }
        }
        if let best { current[best] -= total }
        return best
    }

    /// `weight × scale` in `unit` steps, at least one step.
    static func effectiveWeight(_ weight: Int, scale: Double) -> Int {
        let clamped = scale.isNaN ? 1 : min(max(scale, 0), 1)
        let scaled = Int((Double(weight * unit) * clamped).rounded())
        return max(1, scaled)
    }
}
