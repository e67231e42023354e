import Testing

@testable import SluiceTraffic

/// Warm-up (Guava's SmoothWarmingUp, cold factor 3): 1 token/s, warm-up 10 s. The coldness runs from 10 s (cold)
/// down through the 5 s threshold; a token taken at coldness S costs 1 s + ((S − 5)² − (S − 6)²₊) ÷ 5 s, i.e. the
/// cold tokens cost 2.8, 2.4, 2.0, 1.6 and 1.2 s (summing to exactly the 10 s warm-up) and every later one 1 s.
@Suite struct TokenBucketWarmUpTests {
    let policy = RateLimitPolicy(count: 1, per: .seconds(1), burst: 1, warmup: .seconds(10))

    /// Asserts that the next token is refused one nanosecond before `instant` (told to retry in 1 ns) and passes at
    /// `instant`.
    private func expectNextToken(_ bucket: TokenBucket, at instant: Duration, sourceLocation: SourceLocation = #_sourceLocation) {
        let early = bucket.acquire(now: instant - .nanoseconds(1))
        #expect(early == .limited(retryAfter: .nanoseconds(1), reset: .nanoseconds(1)), sourceLocation: sourceLocation)
        #expect(bucket.acquire(now: instant).isAdmitted, sourceLocation: sourceLocation)
    }

    @Test func coldStartRunsAtAThirdOfTheRateThenRampsToFullSpeed() {
        let bucket = TokenBucket(policy: policy, now: .zero)
        // The first token is free (the bucket is full) and costs 2.8 s of refill: a cold bucket.
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 0, reset: .milliseconds(2800)))
        #expect(bucket.acquire(now: .zero) == .limited(retryAfter: .milliseconds(2800), reset: .milliseconds(2800)))
        // The ramp: intervals 2.8, 2.4, 2.0, 1.6, 1.2 s; after the 10 s warm-up of sustained traffic, 1 s.
        for instant in [2800, 5200, 7200, 8800, 10_000] { expectNextToken(bucket, at: .milliseconds(instant)) }
        for second in 11...20 { expectNextToken(bucket, at: .seconds(second)) }
    }

    @Test func idlenessCoolsTheBucketAgain() {
        let bucket = TokenBucket(policy: policy, now: .zero)
        #expect(bucket.acquire(now: .zero).isAdmitted)
        for instant in [2800, 5200, 7200, 8800, 10_000, 11_000, 12_000, 13_000, 14_000] {
            expectNextToken(bucket, at: .milliseconds(instant))
        }
        // Warm now (coldness 0 from 15 s, when the bucket is full again). 7 s idle: coldness 7 s, so the next
        // token costs 1 + (2² − 1²) ÷ 5 = 1.6 s.
        #expect(bucket.acquire(now: .seconds(22)) == .allowed(remaining: 0, reset: .milliseconds(1600)))
        expectNextToken(bucket, at: .milliseconds(23_600))  // coldness 6 s: costs 1.2 s
        expectNextToken(bucket, at: .milliseconds(24_800))  // coldness 5 s: the threshold, full speed
        expectNextToken(bucket, at: .milliseconds(25_800))
        // Idle for the whole warm-up from when it is full (26.8 s): fully cold again, the ramp restarts.
        #expect(bucket.acquire(now: .milliseconds(36_800)) == .allowed(remaining: 0, reset: .milliseconds(2800)))
        expectNextToken(bucket, at: .milliseconds(39_600))
        expectNextToken(bucket, at: .milliseconds(42_000))
    }

    @Test func idleLongerThanTheWarmUpIsNoColderThanCold() {
        let bucket = TokenBucket(policy: policy, now: .zero)
        #expect(bucket.acquire(now: .seconds(1_000_000)) == .allowed(remaining: 0, reset: .milliseconds(2800)))
    }

    @Test func aColdBucketLetsAThirdOfItsBurstThrough() {
        // Capacity 6 s of refill; cold tokens cost 2.8 and 2.4 s: two pass at once where a warm bucket passes six.
        let bucket = TokenBucket(
            policy: RateLimitPolicy(count: 1, per: .seconds(1), burst: 6, warmup: .seconds(10)), now: .zero)
        #expect(bucket.available(now: .zero) == 2)
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 1, reset: .milliseconds(2800)))
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 0, reset: .milliseconds(5200)))
        // A token needs 1 s of room (the full-rate interval) in the 6 s capacity: 0.2 s from now.
        #expect(bucket.acquire(now: .zero) == .limited(retryAfter: .milliseconds(200), reset: .milliseconds(5200)))
        // Warmed up (sustained traffic through the ramp), the full burst is back after a full refill.
        var now = Duration.zero
        var passed = 0
        while now < .seconds(30) {
            now += .milliseconds(100)
            while bucket.acquire(now: now).isAdmitted { passed += 1 }
        }
        // Coldness 0 by now, the bucket drained: 6 s later (refilled, and only 0 s of full idleness) all 6 pass.
        #expect(bucket.available(now: now + .seconds(6)) == 6)
        #expect(passed > 0)
    }

    @Test func paceWithWarmUpHoldsForTheColdCost() {
        let bucket = TokenBucket(
            policy: RateLimitPolicy(count: 1, per: .seconds(1), burst: 1, warmup: .seconds(10), pace: .seconds(3)),
            now: .zero)
        #expect(bucket.acquire(now: .zero).isAdmitted)
        #expect(bucket.acquire(now: .zero) == .delayed(.milliseconds(2800), remaining: 0, reset: .milliseconds(5200)))
        #expect(bucket.acquire(now: .zero) == .limited(retryAfter: .milliseconds(5200), reset: .milliseconds(5200)))
    }

    @Test func warmUpRoundsTheIntervalUpToAWholeNanosecond() {
        // 3/s with warm-up: the full-rate interval is ⌈10⁹ ÷ 3⌉ = 333 333 334 ns (the plain bucket keeps the thirds).
        let bucket = TokenBucket(
            policy: RateLimitPolicy(count: 3, per: .seconds(1), burst: 1, warmup: .nanoseconds(1)), now: .zero)
        // A 1 ns warm-up is over with the first token.
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 0, reset: .nanoseconds(333_333_335)))
        #expect(bucket.acquire(now: .nanoseconds(333_333_335)) == .allowed(remaining: 0, reset: .nanoseconds(333_333_334)))
        #expect(!bucket.acquire(now: .nanoseconds(666_666_668)).isAdmitted)
        #expect(bucket.acquire(now: .nanoseconds(666_666_669)).isAdmitted)
    }

    @Test func timeGoingBackwardsNeitherWarmsNorGrants() {
        let bucket = TokenBucket(policy: policy, now: .seconds(100))
        #expect(bucket.acquire(now: .seconds(100)).isAdmitted)
        #expect(bucket.acquire(now: .seconds(50)) == .limited(retryAfter: .milliseconds(52_800), reset: .milliseconds(52_800)))
        #expect(!bucket.acquire(now: .nanoseconds(Int64.min)).isAdmitted)
        #expect(bucket.available(now: .nanoseconds(Int64.min)) == 0)
        // Still cold at the next token, exactly as without the detour.
        expectNextToken(bucket, at: .milliseconds(102_800))
        expectNextToken(bucket, at: .milliseconds(105_200))
    }
}
