import Testing

@testable import SluiceGateway

/// nginx's smooth weighted round robin: its exact sequence, long-run shares, eligibility and slow start.
@Suite struct BalancingSWRRTests {
    @Test func nginxSequenceForWeights511() {
        var balancer = SmoothWeightedRoundRobin(weights: [5, 1, 1])
        let all = [true, true, true]
        let names = ["a", "b", "c"]
        let picks = (0..<14).map { _ in names[balancer.pick(eligible: all)!] }
        // The sequence nginx documents in ngx_http_upstream_round_robin.c, twice over (the state returns to zero).
        #expect(picks == ["a", "a", "b", "a", "c", "a", "a", "a", "a", "b", "a", "c", "a", "a"])
        #expect(balancer.current == [0, 0, 0])
    }

    @Test func sharesFollowWeights() {
        let weights = [1, 2, 3, 4]
        var balancer = SmoothWeightedRoundRobin(weights: weights)
        var counts = [0, 0, 0, 0]
        let picks = 100_000
        for _ in 0..<picks { counts[balancer.pick(eligible: [true, true, true, true])!] += 1 }
        let total = Double(weights.reduce(0, +))
        var worst = 0.0
        for index in weights.indices {
            let error = abs(Double(counts[index]) / Double(picks) - Double(weights[index]) / total)
            worst = max(worst, error)
            #expect(error < 0.01)
        }
        print("SWRR [1,2,3,4] over \(picks) picks: counts \(counts), worst share error \(worst)")
        // SWRR is exact per cycle: 100,000 is a whole number of 10-pick cycles.
        #expect(counts == [10_000, 20_000, 30_000, 40_000])
    }

    @Test func smoothWithinEveryCycle() {
        // Within each cycle of Σweights picks every server gets exactly its weight.
        var balancer = SmoothWeightedRoundRobin(weights: [3, 1, 2])
        for _ in 0..<50 {
            var counts = [0, 0, 0]
            for _ in 0..<6 { counts[balancer.pick(eligible: [true, true, true])!] += 1 }
            #expect(counts == [3, 1, 2])
        }
    }

    @Test func ineligibleServersAreNeverPicked() {
        var balancer = SmoothWeightedRoundRobin(weights: [5, 1, 1, 3])
        let eligible = [false, true, true, false]
        var counts = [0, 0, 0, 0]
        for _ in 0..<1000 { counts[balancer.pick(eligible: eligible)!] += 1 }
        #expect(counts == [0, 500, 500, 0])
        // Coming back: server 0 takes its share again.
        counts = [0, 0, 0, 0]
        for _ in 0..<1000 { counts[balancer.pick(eligible: [true, true, true, true])!] += 1 }
        #expect(counts[0] >= 495 && counts[0] <= 505)
        #expect(counts[3] >= 295 && counts[3] <= 305)
    }

    @Test func nilWhenNoneEligible() {
        var balancer = SmoothWeightedRoundRobin(weights: [1, 2])
        #expect(balancer.pick(eligible: [false, false]) == nil)
        #expect(balancer.pick(eligible: [false, false], scale: [1, 1]) == nil)
        var empty = SmoothWeightedRoundRobin(weights: [])
        #expect(empty.pick(eligible: []) == nil)
    }

    @Test func slowStartScalesTheWeight() {
        // Server 0 (weight 10) at half scale weighs 5 against server 1's 5: an even split.
        var balancer = SmoothWeightedRoundRobin(weights: [10, 5])
        var counts = [0, 0]
        for _ in 0..<1000 { counts[balancer.pick(eligible: [true, true], scale: [0.5, 1])!] += 1 }
        #expect(counts == [500, 500])
        // Scale 0 still leaves one fixed-point step (never zero): 1 pick in 5 × 1024 + 1.
        counts = [0, 0]
        var fresh = SmoothWeightedRoundRobin(weights: [10, 5])
        for _ in 0..<5121 { counts[fresh.pick(eligible: [true, true], scale: [0, 1])!] += 1 }
        #expect(counts == [1, 5120])
        // Scale 1 everywhere is plain SWRR.
        var scaled = SmoothWeightedRoundRobin(weights: [5, 1, 1])
        var plain = SmoothWeightedRoundRobin(weights: [5, 1, 1])
        for _ in 0..<21 {
            #expect(scaled.pick(eligible: [true, true, true], scale: [1, 1, 1]) == plain.pick(eligible: [true, true, true]))
        }
    }

    @Test func effectiveWeight() {
        let unit = SmoothWeightedRoundRobin.unit
        #expect(SmoothWeightedRoundRobin.effectiveWeight(4, scale: 1) == 4 * unit)
        #expect(SmoothWeightedRoundRobin.effectiveWeight(5, scale: 0.5) == 5 * unit / 2)
        #expect(SmoothWeightedRoundRobin.effectiveWeight(5, scale: 0) == 1, "never zero")
        #expect(SmoothWeightedRoundRobin.effectiveWeight(1, scale: 0.3) == 307, "a weight-1 server ramps too")
        #expect(SmoothWeightedRoundRobin.effectiveWeight(4, scale: 7) == 4 * unit)
        #expect(SmoothWeightedRoundRobin.effectiveWeight(4, scale: -1) == 1)
        #expect(SmoothWeightedRoundRobin.effectiveWeight(4, scale: .nan) == 4 * unit)
    }
}
