import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Envoy's least request: power of two choices with equal weights, load-adjusted weighted random otherwise.
@Suite struct BalancingLeastRequestTests {
    let picks = 100_000
    let all4 = [true, true, true, true]

    @Test func busyServerIsAvoided() {
        let balancer = LeastRequestBalancer()
        var rng = SplitMix64(state: 1)
        var counts = [0, 0, 0, 0]
        for _ in 0..<picks {
            counts[balancer.pick(active: [10, 0, 0, 0], weights: [1, 1, 1, 1], eligible: all4, using: &rng)!] += 1
        }
        let busyShare = Double(counts[0]) / Double(picks)
        print("Least request P2C, active [10,0,0,0]: counts \(counts), busy share \(busyShare)")
        #expect(busyShare < 0.01)
        // Mildly busy: P2C picks server 0 only when paired with another at least as busy, which never happens here.
        counts = [0, 0, 0, 0]
        for _ in 0..<picks {
            counts[balancer.pick(active: [3, 1, 2, 0], weights: [1, 1, 1, 1], eligible: all4, using: &rng)!] += 1
        }
        print("Least request P2C, active [3,1,2,0]: counts \(counts)")
        // Exactly: the least busy of a uniform pair. Server 3 wins any pair it is in (1/2), server 0 none.
        #expect(counts[0] == 0)
        #expect(abs(Double(counts[3]) / Double(picks) - 0.5) < 0.01)
        #expect(abs(Double(counts[1]) / Double(picks) - 1.0 / 3) < 0.01)
        #expect(abs(Double(counts[2]) / Double(picks) - 1.0 / 6) < 0.01)
    }

    @Test func equalLoadIsUniform() {
        let balancer = LeastRequestBalancer()
        var rng = SplitMix64(state: 2)
        var counts = [0, 0, 0, 0, 0]
        for _ in 0..<picks {
            let all5 = [true, true, true, true, true]
            counts[balancer.pick(active: [2, 2, 2, 2, 2], weights: [3, 3, 3, 3, 3], eligible: all5, using: &rng)!] += 1
        }
        let worst = counts.map { abs(Double($0) / Double(picks) - 0.2) }.max()!
        print("Least request P2C, equal load over 5: counts \(counts), worst share error \(worst)")
        #expect(worst < 0.02)
    }

    @Test func weightsHonouredUnderEqualLoad() {
        let balancer = LeastRequestBalancer()
        var rng = SplitMix64(state: 3)
        let weights = [1, 2, 3, 4]
        var counts = [0, 0, 0, 0]
        for _ in 0..<picks {
            counts[balancer.pick(active: [5, 5, 5, 5], weights: weights, eligible: all4, using: &rng)!] += 1
        }
        let worst = weights.indices.map { abs(Double(counts[$0]) / Double(picks) - Double(weights[$0]) / 10) }.max()!
        print("Least request weighted [1,2,3,4], equal load: counts \(counts), worst share error \(worst)")
        #expect(worst < 0.02)
    }

    @Test func weightsAdjustedByLoad() {
        // Weights [2, 1] with active [3, 0]: adjusted 2/4 = 0.5 against 1/1 = 1, so shares 1/3 and 2/3.
        let balancer = LeastRequestBalancer()
        var rng = SplitMix64(state: 4)
        var counts = [0, 0]
        for _ in 0..<picks {
            counts[balancer.pick(active: [3, 0], weights: [2, 1], eligible: [true, true], using: &rng)!] += 1
        }
        let share = Double(counts[0]) / Double(picks)
        print("Least request weighted [2,1], active [3,0]: counts \(counts), server 0 share \(share) (expected 1/3)")
        #expect(abs(share - 1.0 / 3) < 0.01)
    }

    @Test func ineligibleNeverPickedAndNilWhenNone() {
        let balancer = LeastRequestBalancer()
        var rng = SplitMix64(state: 5)
        for _ in 0..<1000 {
            let equal = balancer.pick(active: [0, 9, 0], weights: [1, 1, 1], eligible: [false, true, false], using: &rng)
            #expect(equal == 1)
            let weighted = balancer.pick(active: [0, 0, 0], weights: [1, 2, 3], eligible: [true, false, true], using: &rng)
            #expect(weighted == 0 || weighted == 2)
        }
        #expect(balancer.pick(active: [0, 0], weights: [1, 2], eligible: [false, false], using: &rng) == nil)
        #expect(balancer.pick(active: [], weights: [], eligible: [], using: &rng) == nil)
    }

    @Test func deterministicForASeed() {
        let balancer = LeastRequestBalancer()
        func run(_ seed: UInt64) -> [Int] {
            var rng = SplitMix64(state: seed)
            return (0..<500).map { i in
                balancer.pick(active: [i % 3, 1, 2, i % 5], weights: i % 2 == 0 ? [1, 1, 1, 1] : [1, 2, 3, 4],
                              eligible: all4, using: &rng)!
            }
        }
        #expect(run(11) == run(11))
        #expect(run(11) != run(12))
    }

    @Test func biasPower() {
        #expect(abs(LeastRequestBalancer.power(4, 0.5) - 2) < 1e-12)
        #expect(abs(LeastRequestBalancer.power(10, 2) - 100) < 1e-9)
        #expect(abs(LeastRequestBalancer.power(1001, 1.5) - 31_670.222_623) < 1e-3)
        #expect(LeastRequestBalancer.power(1, 3.7) == 1)
        let strong = LeastRequestBalancer(activeRequestBias: 2)
        #expect(abs(strong.adjustedWeight(8, active: 1) - 2) < 1e-12)
        let none = LeastRequestBalancer(activeRequestBias: 0)
        #expect(none.adjustedWeight(8, active: 100) == 8)
    }
}
