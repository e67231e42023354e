import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Maglev: table balance, weights, disruption when a backend leaves, stability across independently built tables.
@Suite struct BalancingMaglevTests {
    static func backends(_ count: Int, weight: Int = 1) -> [(name: String, weight: Int)] {
        (0..<count).map { (name: "10.0.0.\($0 + 1):8080", weight: weight) }
    }

    /// 100,000 random keys (deterministic), hashed with `KeyHash`.
    static func keyHashes(seed: UInt64 = 2016, count: Int = 100_000) -> [UInt64] {
        var rng = SplitMix64(state: seed)
        return (0..<count).map { _ in KeyHash.hash("session-\(rng.next())") }
    }

    @Test func equalBackendsShareEvenly() {
        let table = MaglevTable(backends: Self.backends(5))
        // The table itself: Maglev gives every equal backend ⌊M/N⌋ or ⌈M/N⌉ slots.
        let slots = table.slotCounts(backendCount: 5)
        #expect(slots.reduce(0, +) == 65537)
        #expect(slots.allSatisfy { $0 == 13107 || $0 == 13108 })
        var counts = [Int](repeating: 0, count: 5)
        let keys = Self.keyHashes()
        for hash in keys { counts[table.lookup(hash: hash)!] += 1 }
        let worst = counts.map { abs(Double($0) / Double(keys.count) - 0.2) }.max()!
        print("Maglev N=5 equal: slots \(slots), keys \(counts), worst share error \(worst)")
        #expect(worst < 0.01)
    }

    @Test func weightsOneTwo() {
        let table = MaglevTable(backends: [(name: "a:80", weight: 1), (name: "b:80", weight: 2)])
        let slots = table.slotCounts(backendCount: 2)
        var counts = [0, 0]
        let keys = Self.keyHashes()
        for hash in keys { counts[table.lookup(hash: hash)!] += 1 }
        let share = Double(counts[0]) / Double(keys.count)
        print("Maglev weights [1,2]: slots \(slots), keys \(counts), light share \(share) (expected 1/3)")
        #expect(abs(Double(slots[0]) / 65537 - 1.0 / 3) < 0.001)
        #expect(abs(share - 1.0 / 3) < 0.01)
    }

    @Test func removingOneOfTenMovesAboutATenth() {
        let all = Self.backends(10)
        let before = MaglevTable(backends: all)
        var eligible = [Bool](repeating: true, count: 10)
        eligible[3] = false
        let after = MaglevTable(backends: all, eligible: eligible)
        let keys = Self.keyHashes()
        var moved = 0
        var survivorsKeys = 0
        var survivorsMoved = 0
        for hash in keys {
            let old = before.lookup(hash: hash)!
            let new = after.lookup(hash: hash)!
            #expect(new != 3)
            if old != new { moved += 1 }
            if old != 3 {
                survivorsKeys += 1
                if old != new { survivorsMoved += 1 }
            }
        }
        let movedShare = Double(moved) / Double(keys.count)
        let stayedShare = 1 - Double(survivorsMoved) / Double(survivorsKeys)
        print("Maglev remove 1 of 10: keys moved \(movedShare) (ideal 0.1); keys on survivors that stayed \(stayedShare)")
        #expect(movedShare <= 0.15)
        #expect(stayedShare >= 0.95)
        // Adding it back restores the original table exactly: the build depends only on the eligible set.
        let restored = MaglevTable(backends: all, eligible: [Bool](repeating: true, count: 10))
        #expect(keys.allSatisfy { restored.lookup(hash: $0) == before.lookup(hash: $0) })
    }

    @Test func independentBuildsAgree() {
        // Two tables built separately (as two gateway processes would) map every key alike.
        let first = MaglevTable(backends: Self.backends(7))
        let second = MaglevTable(backends: Self.backends(7))
        let keys = Self.keyHashes(seed: 7)
        #expect(keys.allSatisfy { first.lookup(hash: $0) == second.lookup(hash: $0) })
        // Pinned mappings: a change to the hash or the build order shows up here.
        let pinned = ["user-1", "user-2", "user-3", "/cart/42", "203.0.113.9"].map { first.lookup(key: $0)! }
        print("Maglev N=7 pinned mappings: \(pinned)")
        #expect(pinned == Self.pinnedMappings)
    }

    /// Computed once by an independent Python model of this build (same hash, same turn order).
    static let pinnedMappings = [2, 2, 4, 1, 6]

    @Test func eligibilityAndEmptyTables() {
        let all = Self.backends(4)
        let table = MaglevTable(backends: all, eligible: [false, true, false, true], size: 1009)
        let slots = table.slotCounts(backendCount: 4)
        #expect(slots[0] == 0 && slots[2] == 0)
        #expect(slots[1] + slots[3] == 1009)
        #expect(abs(slots[1] - slots[3]) <= 1)
        let none = MaglevTable(backends: all, eligible: [false, false, false, false], size: 13)
        #expect(none.lookup(hash: 12345) == nil)
        #expect(MaglevTable(backends: [], size: 13).lookup(key: "x") == nil)
        #expect(MaglevTable(backends: [(name: "a", weight: 0)], size: 13).lookup(key: "x") == nil)
        let single = MaglevTable(backends: [(name: "only:80", weight: 3)], size: 13)
        #expect((0..<100).allSatisfy { single.lookup(hash: UInt64($0)) == 0 })
    }

    @Test func smallPrimeTables() {
        for size in [7, 13, 251] { #expect(MaglevTable(backends: Self.backends(3), size: size).size == size) }
        #expect(MaglevTable.isPrime(65537))
        #expect(!MaglevTable.isPrime(65536))
        #expect(!MaglevTable.isPrime(1))
        #expect(MaglevTable.isPrime(2))
    }
}
