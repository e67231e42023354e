import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Weighted random: shares, eligibility, determinism.
@Suite struct BalancingRandomTests {
    @Test func weightsHonoured() {
        let weights = [1, 2, 3, 4]
        let balancer = RandomBalancer(weights: weights)
        var rng = SplitMix64(state: 42)
        var counts = [0, 0, 0, 0]
        let picks = 100_000
        for _ in 0..<picks { counts[balancer.pick(eligible: [true, true, true, true], using: &rng)!] += 1 }
        let total = Double(weights.reduce(0, +))
        var worst = 0.0
        for index in weights.indices {
            let error = abs(Double(counts[index]) / Double(picks) - Double(weights[index]) / total)
            worst = max(worst, error)
            #expect(error < 0.02)
        }
        print("Random [1,2,3,4] over \(picks) picks: counts \(counts), worst share error \(worst)")
    }

    @Test func ineligibleAndWeightlessNeverPicked() {
        let balancer = RandomBalancer(weights: [3, 0, 1, 2])
        var rng = SplitMix64(state: 7)
        var counts = [0, 0, 0, 0]
        for _ in 0..<10_000 { counts[balancer.pick(eligible: [true, true, false, true], using: &rng)!] += 1 }
        #expect(counts[1] == 0 && counts[2] == 0)
        #expect(counts[0] > 0 && counts[3] > 0)
    }

    @Test func nilWhenNoneEligible() {
        var rng = SplitMix64(state: 1)
        #expect(RandomBalancer(weights: [1, 1]).pick(eligible: [false, false], using: &rng) == nil)
        #expect(RandomBalancer(weights: [0, 0]).pick(eligible: [true, true], using: &rng) == nil)
        #expect(RandomBalancer(weights: []).pick(eligible: [], using: &rng) == nil)
    }

    @Test func deterministicForASeed() {
        let balancer = RandomBalancer(weights: [1, 5, 2])
        var first = SplitMix64(state: 99)
        var second = SplitMix64(state: 99)
        let a = (0..<200).map { _ in balancer.pick(eligible: [true, true, true], using: &first)! }
        let b = (0..<200).map { _ in balancer.pick(eligible: [true, true, true], using: &second)! }
        #expect(a == b)
    }
}
