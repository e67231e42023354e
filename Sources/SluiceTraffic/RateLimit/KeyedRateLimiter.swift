import Synchronization

/// One token bucket per key (a client address, a header value), all with the same policy and the same decisions
/// as `TokenBucket`, in a table of bounded size shared by every event-loop thread.
///
/// Rules:
/// - Lock striping: the keys are spread over up to 64 shards (fewer for tables under 2048 keys: at least 16 keys
///   a shard) by their Swift hash (seeded per process, so clients cannot aim their keys at one shard), each a
///   `Mutex<[String: state]>` holding the GCRA state of its keys. A key is created, full, on its first request;
///   asking `available` does not create it.
/// - Memory is bounded: each shard holds at most `maxKeys ÷ shards` keys, so `keyCount ≤ maxKeys` at all times.
///   Inserting into a full shard first drops its idle keys: a key whose bucket is full again (with warm-up: and
///   fully cold) behaves exactly like a key never seen, so dropping it changes no decision. If that frees less
///   than a sixteenth of the shard, it then drops the active keys closest to full (smallest TAT: the least recently
///   limited) down to fifteen sixteenths, and counts them in `evictedActive`: such a key comes back full, which
///   loses precision in the client's favour. The slack makes a flood of new keys cost an amortised constant per
///   key instead of a scan per key. Envoy's local rate limiter has no per-key table (descriptors are configured
///   buckets); nginx `limit_req_zone` bounds its table by memory and drops least recently used entries.
public final class KeyedRateLimiter: Sendable {
    public let policy: RateLimitPolicy
    /// The most keys held at once.
    public let maxKeys: Int
    private let gcra: GCRA
    private let shards: [Shard]
    private let shardCapacity: Int
    /// Drops down to `shardCapacity − slack` when idle keys alone do not free `slack`.
    private let slack: Int
    private let keys = Atomic<Int>(0)
    private let activeEvictions = Atomic<Int>(0)

    private final class Shard: Sendable {
        let table = Mutex<[String: WordPair]>([:])
    }

    /// `maxKeys ≥ 1`. `now` is the creation instant; the table starts empty, so no decision depends on it.
    public convenience init(policy: RateLimitPolicy, maxKeys: Int = 100_000, now: Duration) {
        // A power of two up to 64, with at least 16 keys per shard when the table is that big.
        var shards = 1
        while shards < 64 && shards * 2 * 16 <= maxKeys { shards *= 2 }
        self.init(policy: policy, maxKeys: maxKeys, shards: shards, now: now)
    }

    init(policy: RateLimitPolicy, maxKeys: Int, shards shardCount: Int, now: Duration) {
        precondition(maxKeys >= 1, "maxKeys must be at least 1")
        precondition(shardCount >= 1 && shardCount <= maxKeys)
        self.policy = policy
        self.maxKeys = maxKeys
        self.gcra = GCRA(policy: policy)
        self.shards = (0..<shardCount).map { _ in Shard() }
        self.shardCapacity = maxKeys / shardCount
        self.slack = max(1, shardCapacity / 16)
    }

    /// Keys currently held.
    public var keyCount: Int { keys.load(ordering: .relaxed) }

    /// Keys dropped while their bucket was not yet full (see the type's rules); they lose their debt.
    public var evictedActive: Int { activeEvictions.load(ordering: .relaxed) }

    /// Takes one token from `key`'s bucket, creating it (full) on first use.
    public func acquire(key: String, now: Duration) -> RateLimitDecision {
        let now = gcra.instant(now)
        return shard(for: key).table.withLock { table in
            if let index = table.index(forKey: key) {
                let (next, decision) = gcra.acquire(table.values[index], at: now)
                if let next { table.values[index] = next }
                return decision
            }
            let (next, decision) = gcra.acquire(gcra.start(at: now), at: now)
            guard let next else { return decision }  // a new bucket always has a token; kept for safety
            if table.count >= shardCapacity { makeRoom(in: &table, now: now) }
            table[key] = next
            keys.add(1, ordering: .relaxed)
            return decision
        }
    }

    /// Whole tokens available to `key` at `now` (a full bucket for an unknown key), without taking any.
    public func available(key: String, now: Duration) -> Int {
        let now = gcra.instant(now)
        let state = shard(for: key).table.withLock { $0[key] } ?? gcra.start(at: now)
        return gcra.available(state, at: now)
    }

    /// True when `key` has a bucket in the table.
    func contains(key: String) -> Bool {
        shard(for: key).table.withLock { $0[key] != nil }
    }

    private func shard(for key: String) -> Shard {
        shards[Int(UInt(bitPattern: key.hashValue) % UInt(shards.count))]
    }

    private func makeRoom(in table: inout [String: WordPair], now: Int128) {
        let before = table.count
        var idle: [String] = []
        var active: [(key: String, arrival: Int128)] = []
        var arrivals: [Int128] = []
        for (key, state) in table {
            if gcra.isIdle(state, at: now) {
                idle.append(key)
            } else {
                let arrival = gcra.theoreticalArrival(state)
                active.append((key, arrival))
                arrivals.append(arrival)
            }
        }
        if active.count < idle.count {
            // Mostly idle (the usual case): rebuilding from the few active keys is cheaper than removing the rest.
            var rebuilt = [String: WordPair](minimumCapacity: shardCapacity)
            for (key, _) in active { rebuilt[key] = table[key] }
            table = rebuilt
        } else {
            for key in idle { table.removeValue(forKey: key) }
        }
        let excess = table.count - (shardCapacity - slack)
        if excess > 0 {
            // The `excess` smallest TATs go: all below the excess-th smallest, then enough of those equal to it.
            let threshold = select(excess - 1, in: &arrivals)
            var equalToDrop = excess
            for arrival in arrivals where arrival < threshold { equalToDrop -= 1 }
            for (key, arrival) in active {
                if arrival < threshold {
                    table.removeValue(forKey: key)
                } else if arrival == threshold && equalToDrop > 0 {
                    table.removeValue(forKey: key)
                    equalToDrop -= 1
                }
            }
            activeEvictions.add(excess, ordering: .relaxed)
        }
        keys.subtract(before - table.count, ordering: .relaxed)
    }
}

/// Rearranges `values` so that `values[k]` is the element a sort would put there (Hoare's selection, expected
/// linear time), and returns it. Written out rather than sorting: it is cheaper, in debug builds by far.
private func select(_ k: Int, in values: inout [Int128]) -> Int128 {
    var low = 0
    var high = values.count - 1
    while low < high {
        let pivot = values[low + (high - low) / 2]
        var i = low
        var j = high
        while i <= j {
            while values[i] < pivot { i += 1 }
            while values[j] > pivot { j -= 1 }
            if i <= j {
                values.swapAt(i, j)
                i += 1
                j -= 1
            }
        }
        if k <= j {
            high = j
        } else if k >= i {
            low = i
        } else {
            break
        }
    }
    return values[k]
}
