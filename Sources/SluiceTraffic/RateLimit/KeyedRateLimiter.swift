import Synchronization

/// One token bucket per key (a client address, a header value), all with the same policy and the same decisions
/// as `TokenBucket`, in a table of bounded size shared by every event-loop thread.
///
/// Rules:
/// - Lock striping: the keys are spread over up to 64 shards by their Swift hash (seeded per process, so clients
///   cannot aim their keys at one shard), each a `Mutex<[String: state]>` holding the GCRA state of its keys. A
///   key is created, full, on its first request; asking `available` does not create it.
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
    public init(policy: RateLimitPolicy, maxKeys: Int = 100_000, now: Duration) {
        precondition(maxKeys >= 1, "maxKeys must be at least 1")
        self.policy = policy
        self.maxKeys = maxKeys
        self.gcra = GCRA(policy: policy)
        var shardCount = 1
        while shardCount < 64 && shardCount * 2 <= maxKeys { shardCount *= 2 }
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
        table = table.filter { !gcra.isIdle($0.value, at: now) }
        let target = shardCapacity - slack
        if table.count > target {
            let excess = table.count - target
            let victims = table.map { (tat: gcra.theoreticalArrival($0.value), key: $0.key) }
                .sorted { $0.tat < $1.tat }
                .prefix(excess)
            for victim in victims { table[victim.key] = nil }
            activeEvictions.add(excess, ordering: .relaxed)
        }
        keys.subtract(before - table.count, ordering: .relaxed)
    }
}
