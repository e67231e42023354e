/// Envoy's least-request balancer (`LeastRequestLoadBalancer`, `source/common/upstream/load_balancer_impl.cc`).
///
/// - All eligible weights equal: power of two choices. Two *distinct* eligible servers are drawn uniformly and the one
///   with fewer active requests wins; on a tie the first drawn wins. (Envoy draws with replacement; distinct draws
///   mean a lone busy server is never chosen while an idle one exists.)
/// - Unequal weights: each eligible server's weight is adjusted to `weight / (active + 1)^bias` (Envoy's
///   `active_request_bias`, default 1.0) and one server is drawn by weighted random over the adjusted weights. Envoy
///   feeds the same adjusted weights to its EDF scheduler instead; the expected shares are the same, and a random
///   draw needs no state between picks.
struct LeastRequestBalancer: Sendable {
    /// Envoy's `active_request_bias`: 0 ignores load, larger values shun busy servers harder.
    let activeRequestBias: Double

    init(activeRequestBias: Double = 1.0) {
        precondition(activeRequestBias >= 0, "bias must not be negative")
        self.activeRequestBias = activeRequestBias
    }

    /// A server among those whose `eligible` entry is true, or nil when none is. `active` is each server's count of
    /// requests in flight; `weights` its configured weight (servers with weight 0 or less are never chosen).
    func pick(active: [Int], weights: [Int], eligible: [Bool], using rng: inout some RandomNumberGenerator) -> Int? {
        precondition(active.count == weights.count && eligible.count == weights.count, "one entry per server")
        var eligibleCount = 0
        var firstWeight: Int? = nil
        var equalWeights = true
        for index in weights.indices where eligible[index] && weights[index] > 0 {
            eligibleCount += 1
            if let firstWeight {
                equalWeights = equalWeights && weights[index] == firstWeight
            } else {
                firstWeight = weights[index]
            }
        }
        guard eligibleCount > 0 else { return nil }
        if equalWeights {
            return twoChoices(active: active, weights: weights, eligible: eligible, count: eligibleCount, using: &rng)
        }
        return weightedByLoad(active: active, weights: weights, eligible: eligible, using: &rng)
    }

    private func twoChoices(
        active: [Int], weights: [Int], eligible: [Bool], count: Int, using rng: inout some RandomNumberGenerator
    ) -> Int {
        func nth(_ n: Int) -> Int {
            var remaining = n
            for index in weights.indices where eligible[index] && weights[index] > 0 {
                if remaining == 0 { return index }
                remaining -= 1
            }
            preconditionFailure("fewer eligible servers than counted")
        }
        let firstDraw = Int.random(in: 0..<count, using: &rng)
        let first = nth(firstDraw)
        guard count > 1 else { return first }
        // A draw from the other count - 1 servers, shifted past the first: two distinct servers, uniformly.
        var secondDraw = Int.random(in: 0..<(count - 1), using: &rng)
        if secondDraw >= firstDraw { secondDraw += 1 }
        let second = nth(secondDraw)
        return active[second] < active[first] ? second : first
    }

    private func weightedByLoad(
        active: [Int], weights: [Int], eligible: [Bool], using rng: inout some RandomNumberGenerator
    ) -> Int {
        var total = 0.0
        var last = 0
        for index in weights.indices where eligible[index] && weights[index] > 0 {
            total += adjustedWeight(weights[index], active: active[index])
            last = index
        }
        let target = Double.random(in: 0..<total, using: &rng)
        var cumulative = 0.0
        for index in weights.indices where eligible[index] && weights[index] > 0 {
            cumulative += adjustedWeight(weights[index], active: active[index])
            if target < cumulative { return index }
        }
        return last  // Rounding left `target` at the very top.
    }

    /// `weight / (active + 1)^bias`; bias 1.0, the default, skips `pow`.
    func adjustedWeight(_ weight: Int, active: Int) -> Double {
        let load = Double(max(active, 0) + 1)
        let divisor: Double
        if activeRequestBias == 1.0 {
            divisor = load
        } else if activeRequestBias == 0 {
            divisor = 1
        } else {
            divisor = Self.power(load, activeRequestBias)
        }
        return Double(weight) / divisor
    }

    /// `base^exponent` for `base >= 1`, without Foundation: `exp(exponent × ln base)`, both by short series.
    static func power(_ base: Double, _ exponent: Double) -> Double {
        // ln base = e·ln 2 + ln m with m in [1, 2); ln m = 2 atanh((m - 1) / (m + 1)), |y| <= 1/3, converges fast.
        let m = base.significand
        let y = (m - 1) / (m + 1)
        let y2 = y * y
        var term = y
        var lnM = 0.0
        var k = 1.0
        while term / k > 1e-18 {
            lnM += term / k
            term *= y2
            k += 2
        }
        let ln = Double(base.exponent) * 0.693_147_180_559_945_309_4 + 2 * lnM
        // exp: halve until small, a Taylor series, then square back.
        var x = exponent * ln
        var halvings = 0
        while abs(x) > 0.5 {
            x /= 2
            halvings += 1
        }
        var sum = 1.0
        var t = 1.0
        for n in 1...20 {
            t *= x / Double(n)
            sum += t
        }
        for _ in 0..<halvings { sum *= sum }
        return sum
    }
}
