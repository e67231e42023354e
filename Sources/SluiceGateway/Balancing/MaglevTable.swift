/// Maglev consistent hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
/// NSDI 2016, §3.4): a lookup table of prime size `M` in which every backend owns a near-equal share of slots, and
/// from which removing a backend moves little more than that backend's own keys.
///
/// Each backend's preference list is the permutation `(offset + j × skip) mod M`, with `offset = h1(name) mod M` and
/// `skip = h2(name) mod (M − 1) + 1`; since `M` is prime every `skip` visits every slot. Backends take turns claiming
/// their next still-free preferred slot until the table is full (the paper's `Populate`).
///
/// Weights (as Envoy's `MaglevTable` does): in round `r` (from 0) a backend takes its turn only when
/// `r × weight ≥ target`, and each turn adds `maxWeight` to its `target`. The heaviest backend takes every round, one
/// of half its weight every other round, so slot shares follow the weights while each claim still follows the
/// backend's own permutation (which is what keeps disruption low).
///
/// Eligibility: the table is built over the eligible backends only (rebuild when the set changes); `lookup` returns
/// an index into the original `backends` list. The table is immutable and `Sendable`; build it off the hot path.
struct MaglevTable: Sendable {
    static let defaultSize = 65537

    /// Per slot, the index of its backend in the list given to `init`.
    private let slots: [Int32]
    let size: Int

    /// Builds the table. `size` must be prime (65537 by default; the paper suggests `M` well above 100 × N for
    /// slot shares within about 1%). Backends with weight 0 or less, or whose `eligible` flag is false, get no slots.
    init(backends: [(name: String, weight: Int)], eligible: [Bool]? = nil, size: Int = MaglevTable.defaultSize) {
        precondition(Self.isPrime(size), "the Maglev table size must be prime")
        precondition(eligible == nil || eligible!.count == backends.count, "one eligibility flag per backend")
        self.size = size
        struct Entry {
            let backend: Int32
            let offset: UInt64
            let skip: UInt64
            let weight: Int
            var next: UInt64 = 0
            var target = 0
        }
        let m = UInt64(size)
        var entries: [Entry] = []
        for (index, backend) in backends.enumerated() where backend.weight > 0 && (eligible?[index] ?? true) {
            entries.append(
                Entry(
                    backend: Int32(index),
                    offset: KeyHash.hash(backend.name) % m,
                    skip: KeyHash.hash(backend.name, seed: Self.skipSeed) % (m - 1) + 1,
                    weight: backend.weight
                )
            )
        }
        guard let maxWeight = entries.map(\.weight).max() else {
            self.slots = []
            return
        }
        var slots = [Int32](repeating: -1, count: size)
        var filled = 0
        var round = 0
        populate: while true {
            for i in entries.indices {
                if round * entries[i].weight < entries[i].target { continue }
                entries[i].target += maxWeight
                // The backend's next preferred slot that is still free. `next` stays below M: a free slot exists.
                var slot = Int((entries[i].offset &+ entries[i].next &* entries[i].skip) % m)
                while slots[slot] >= 0 {
                    entries[i].next += 1
                    slot = Int((entries[i].offset &+ entries[i].next &* entries[i].skip) % m)
                }
                slots[slot] = entries[i].backend
                entries[i].next += 1
                filled += 1
                if filled == size { break populate }
            }
            round += 1
        }
        self.slots = slots
    }

    /// The backend (an index into the list given to `init`) for a key hashed with `KeyHash`; nil when no backend is
    /// eligible.
    func lookup(hash: UInt64) -> Int? {
        guard !slots.isEmpty else { return nil }
        return Int(slots[Int(hash % UInt64(size))])
    }

    /// `lookup(hash: KeyHash.hash(key))`.
    func lookup(key: some StringProtocol) -> Int? { lookup(hash: KeyHash.hash(key)) }

    /// How many slots each backend owns, indexed like the list given to `init`: the table's balance.
    func slotCounts(backendCount: Int) -> [Int] {
        var counts = [Int](repeating: 0, count: backendCount)
        for backend in slots { counts[Int(backend)] += 1 }
        return counts
    }

    /// Seeds `h2`, so that offset and skip come from independent hashes of the name.
    static let skipSeed: UInt64 = 0x9E37_79B9_7F4A_7C15

    static func isPrime(_ n: Int) -> Bool {
        guard n >= 2 else { return false }
        if n < 4 { return true }
        if n % 2 == 0 { return false }
        var d = 3
        while d * d <= n {
            if n % d == 0 { return false }
            d += 2
        }
        return true
    }
}
