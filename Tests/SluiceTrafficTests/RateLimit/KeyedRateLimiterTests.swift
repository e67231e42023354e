import Testing

@testable import SluiceTraffic

/// Per-key buckets: the same decisions as a `TokenBucket` per key, a bounded table, exact idle eviction.
@Suite struct KeyedRateLimiterTests {
    @Test func decidesExactlyAsOneBucketPerKey() {
        let policy = RateLimitPolicy(count: 3, per: .seconds(1), burst: 2, pace: .milliseconds(400))
        let limiter = KeyedRateLimiter(policy: policy, now: .zero)
        let keys = ["10.0.0.1", "10.0.0.2", "api-key-7"]
        let buckets = keys.map { _ in TokenBucket(policy: policy, now: .zero) }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        var now = Duration.zero
        var admitted = 0
        for _ in 0..<3000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let index = Int(state >> 62) % keys.count
            now += .milliseconds(Int64(state >> 40 & 0xff))
            let decision = limiter.acquire(key: keys[index], now: now)
            #expect(decision == buckets[index].acquire(now: now))
            if decision.isAdmitted { admitted += 1 }
            #expect(limiter.available(key: keys[index], now: now) == buckets[index].available(now: now))
        }
        #expect(admitted > 100 && admitted < 3000)  // both outcomes happened
    }

    @Test func anUnknownKeyIsFullAndAskingDoesNotCreateIt() {
        let limiter = KeyedRateLimiter(policy: RateLimitPolicy(count: 5, per: .seconds(1)), now: .zero)
        #expect(limiter.available(key: "nobody", now: .seconds(3)) == 5)
        #expect(limiter.keyCount == 0)
        #expect(limiter.acquire(key: "somebody", now: .seconds(3)) == .allowed(remaining: 4, reset: .milliseconds(200)))
        #expect(limiter.keyCount == 1)
        #expect(limiter.contains(key: "somebody") && !limiter.contains(key: "nobody"))
    }

    @Test func evictingAnIdleKeyIsExact() {
        // One shard holding one key.
        let limiter = KeyedRateLimiter(policy: RateLimitPolicy(count: 1, per: .seconds(1), burst: 1), maxKeys: 1, now: .zero)
        #expect(limiter.acquire(key: "a", now: .zero).isAdmitted)
        // "a" is full again at 1 s: dropping it for "b" loses nothing.
        #expect(limiter.acquire(key: "b", now: .seconds(2)).isAdmitted)
        #expect(limiter.evictedActive == 0 && limiter.keyCount == 1)
        #expect(!limiter.contains(key: "a"))
        #expect(limiter.acquire(key: "a", now: .seconds(2)) == TokenBucket(policy: limiter.policy, now: .zero).acquire(now: .seconds(2)))
    }

    @Test func evictingAnActiveKeyIsCounted() {
        let limiter = KeyedRateLimiter(policy: RateLimitPolicy(count: 1, per: .seconds(1), burst: 1), maxKeys: 1, now: .zero)
        #expect(limiter.acquire(key: "a", now: .zero).isAdmitted)
        #expect(!limiter.acquire(key: "a", now: .milliseconds(100)).isAdmitted)
        // "b" arrives while "a" still has 0.9 s of debt: "a" goes, and it is counted.
        #expect(limiter.acquire(key: "b", now: .milliseconds(100)).isAdmitted)
        #expect(limiter.evictedActive == 1 && limiter.keyCount == 1)
        // The precision lost: "a" is back with a full bucket (its own bucket would still refuse).
        #expect(limiter.acquire(key: "a", now: .milliseconds(100)).isAdmitted)
        #expect(limiter.evictedActive == 2)
    }

    @Test func activeEvictionDropsTheKeysClosestToFull() {
        // 1 shard of 32 keys; slack 2: making room drops down to 30.
        let limiter = KeyedRateLimiter(
            policy: RateLimitPolicy(count: 1, per: .seconds(1), burst: 1, pace: .seconds(100)), maxKeys: 32, shards: 1,
            now: .zero)
        // Key i takes i + 1 tokens at time 0: its TAT is i + 1 s. All are active for a while.
        for i in 0..<32 {
            for _ in 0...i { #expect(limiter.acquire(key: "k\(i)", now: .zero).isAdmitted) }
        }
        #expect(limiter.keyCount == 32)
        #expect(limiter.acquire(key: "new", now: .milliseconds(500)).isAdmitted)
        // No key is idle at 0.5 s: the two closest to full go (32 → 30), then "new" comes in.
        #expect(limiter.evictedActive == 2)
        #expect(limiter.keyCount == 31)
        #expect(!limiter.contains(key: "k0") && !limiter.contains(key: "k1"))
        #expect((2..<32).allSatisfy { limiter.contains(key: "k\($0)") } && limiter.contains(key: "new"))
        // The survivors kept their exact debt: k2 reserved 3 s.
        #expect(limiter.acquire(key: "k2", now: .milliseconds(500)) == .delayed(.milliseconds(2500), remaining: 0, reset: .milliseconds(3500)))
    }

    @Test func withWarmUpOnlyFullyColdKeysAreIdle() {
        let policy = RateLimitPolicy(count: 1, per: .seconds(1), burst: 1, warmup: .seconds(10))
        let limiter = KeyedRateLimiter(policy: policy, maxKeys: 1, now: .zero)
        #expect(limiter.acquire(key: "a", now: .zero).isAdmitted)  // TAT 2.8 s, coldness 9 s
        // At 3 s "a" is full but not fully cold (9.2 s of 10): not idle, so its eviction is counted.
        #expect(limiter.acquire(key: "b", now: .seconds(3)).isAdmitted)
        #expect(limiter.evictedActive == 1)
        // "b": TAT 5.8 s, coldness 9 s; fully cold again at 6.8 s: dropping it then is exact.
        #expect(limiter.acquire(key: "c", now: .milliseconds(6800)).isAdmitted)
        #expect(limiter.evictedActive == 1)
    }

    /// A million distinct keys, one request each, 1 ms apart (1000 s in all), into a table of 10 000. At 1 token/s
    /// and burst 1, a key is full again 1 s after its request, so at any moment only ~1000 keys are active: every
    /// eviction finds idle keys, which is exact. The "victim" key reserved 2000 s of tokens at the start (pace) and
    /// was then refused, so it is still held back after the flood; it is the farthest from full, so it would be
    /// the last to go even if active keys had to be dropped. Exactly assertable: the bound, no active eviction, the
    /// victim's exact remaining debt (a new key would pass at once), and the last second's keys all present (active
    /// keys are never dropped while idle ones can be).
    @Test func aMillionKeysStayWithinTheBoundAndKeepTheLimitedKey() {
        let limiter = KeyedRateLimiter(
            policy: RateLimitPolicy(count: 1, per: .seconds(1), burst: 1, pace: .seconds(2000)), maxKeys: 10_000,
            now: .zero)
        #expect(limiter.acquire(key: "victim", now: .zero).isAdmitted)
        for _ in 0..<2000 { _ = limiter.acquire(key: "victim", now: .zero) }
        #expect(limiter.acquire(key: "victim", now: .zero) == .limited(retryAfter: .seconds(2001), reset: .seconds(2001)))
        var largest = 0
        for i in 0..<1_000_000 {
            let now = Duration(secondsComponent: Int64(i / 1000), attosecondsComponent: Int64(i % 1000) * 1_000_000_000_000_000)
            _ = limiter.acquire(key: String(i), now: now)
            largest = max(largest, limiter.keyCount)
        }
        let end = Duration.seconds(1000)
        #expect(largest <= 10_000)
        #expect(largest > 5_000)  // the shards did fill up (not all at once: each empties to its active keys)
        #expect(limiter.evictedActive == 0)
        #expect(limiter.acquire(key: "victim", now: end) == .delayed(.seconds(1001), remaining: 0, reset: .seconds(1002)))
        #expect((999_000..<1_000_000).allSatisfy { limiter.contains(key: String($0)) })
    }

    /// A flood faster than the refill: every key is active, so every eviction drops active keys. Exact: all
    /// dropped keys are counted, and the limited key, the farthest from full, survives with its exact debt.
    @Test func aFastFloodCountsEveryActiveEvictionAndKeepsTheLimitedKey() {
        let limiter = KeyedRateLimiter(
            policy: RateLimitPolicy(count: 1, per: .seconds(60), burst: 1, pace: .seconds(600)), maxKeys: 4096,
            now: .zero)
        for _ in 0..<5 { #expect(limiter.acquire(key: "victim", now: .zero).isAdmitted) }
        let flood = 50_000
        var admitted = 0
        for i in 0..<flood where limiter.acquire(key: String(i), now: .milliseconds(i / 100)).isAdmitted {
            admitted += 1
        }
        #expect(admitted == flood)
        #expect(limiter.keyCount <= 4096)
        #expect(limiter.evictedActive == flood + 1 - limiter.keyCount)
        #expect(limiter.contains(key: "victim"))
        #expect(limiter.acquire(key: "victim", now: .seconds(1)) == .delayed(.seconds(299), remaining: 0, reset: .seconds(359)))
    }
}
