import Testing

@testable import SluiceTraffic

/// The plain bucket (no warm-up): every decision kind, exact values, exact refill over long spans, backwards time.
@Suite struct TokenBucketTests {
    @Test func startsFullPassesTheBurstThenRefuses() {
        let now = Duration.seconds(100)
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 10, per: .seconds(1), burst: 3), now: now)
        #expect(bucket.available(now: now) == 3)
        #expect(bucket.acquire(now: now) == .allowed(remaining: 2, reset: .milliseconds(100)))
        #expect(bucket.acquire(now: now) == .allowed(remaining: 1, reset: .milliseconds(200)))
        #expect(bucket.acquire(now: now) == .allowed(remaining: 0, reset: .milliseconds(300)))
        #expect(bucket.acquire(now: now) == .limited(retryAfter: .milliseconds(100), reset: .milliseconds(300)))
        // A refusal costs nothing: the next one says the same.
        #expect(bucket.acquire(now: now) == .limited(retryAfter: .milliseconds(100), reset: .milliseconds(300)))
        #expect(bucket.available(now: now) == 0)
    }

    @Test func burstDefaultsToCount() {
        let policy = RateLimitPolicy(count: 1000, per: .seconds(1))
        #expect(policy.burst == 1000)
        #expect(policy.warmup == nil && policy.pace == nil)
        #expect(TokenBucket(policy: policy, now: .zero).available(now: .zero) == 1000)
    }

    @Test func refillsContinuouslyUpToTheBurst() {
        let start = Duration.seconds(7)
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 10, per: .seconds(1), burst: 3), now: start)
        for _ in 0..<3 { #expect(bucket.acquire(now: start).isAdmitted) }
        #expect(bucket.available(now: start + .milliseconds(99)) == 0)
        #expect(bucket.available(now: start + .milliseconds(100)) == 1)
        #expect(bucket.available(now: start + .milliseconds(250)) == 2)
        #expect(bucket.available(now: start + .milliseconds(300)) == 3)
        #expect(bucket.available(now: start + .seconds(3600)) == 3)
        // 150 ms in: 1.5 tokens; one passes, half a token is kept.
        let now = start + .milliseconds(150)
        #expect(bucket.acquire(now: now) == .allowed(remaining: 0, reset: .milliseconds(250)))
        #expect(bucket.acquire(now: now) == .limited(retryAfter: .milliseconds(50), reset: .milliseconds(250)))
        #expect(bucket.acquire(now: now + .milliseconds(50)) == .allowed(remaining: 0, reset: .milliseconds(300)))
        // After a long pause the bucket is full, not fuller.
        let later = start + .seconds(10)
        #expect(bucket.acquire(now: later) == .allowed(remaining: 2, reset: .milliseconds(100)))
        #expect(bucket.acquire(now: later) == .allowed(remaining: 1, reset: .milliseconds(200)))
        #expect(bucket.acquire(now: later) == .allowed(remaining: 0, reset: .milliseconds(300)))
        #expect(!bucket.acquire(now: later).isAdmitted)
    }

    @Test func perMinuteAndPerHourPolicies() {
        let perMinute = TokenBucket(policy: RateLimitPolicy(count: 60, per: .seconds(60), burst: 2), now: .zero)
        #expect(perMinute.acquire(now: .zero) == .allowed(remaining: 1, reset: .seconds(1)))
        #expect(perMinute.acquire(now: .zero) == .allowed(remaining: 0, reset: .seconds(2)))
        #expect(perMinute.acquire(now: .zero) == .limited(retryAfter: .seconds(1), reset: .seconds(2)))
        let perHour = TokenBucket(policy: RateLimitPolicy(count: 7, per: .seconds(3600), burst: 1), now: .zero)
        #expect(perHour.acquire(now: .zero).isAdmitted)
        // 3600 s ÷ 7 = 514.285714285… s: the next token is due at ⌈3600 × 10⁹ ÷ 7⌉ ns.
        #expect(perHour.acquire(now: .zero) == .limited(retryAfter: .nanoseconds(514_285_714_286), reset: .nanoseconds(514_285_714_286)))
        #expect(!perHour.acquire(now: .nanoseconds(514_285_714_285)).isAdmitted)
        #expect(perHour.acquire(now: .nanoseconds(514_285_714_286)).isAdmitted)
    }

    @Test func fractionalIntervalsAreExactAtTheNanosecond() {
        // 3/s: after draining, the k-th token is free at exactly ⌈k × 10⁹ ÷ 3⌉ ns, never a nanosecond earlier.
        // (burst 2 so that taking each token at its due time never finds the bucket full, which would drop the
        // fraction of a token that overflows, as a full bucket must.)
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 3, per: .seconds(1), burst: 2), now: .zero)
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 1, reset: .nanoseconds(333_333_334)))
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 0, reset: .nanoseconds(666_666_667)))
        #expect(bucket.acquire(now: .zero) == .limited(retryAfter: .nanoseconds(333_333_334), reset: .nanoseconds(666_666_667)))
        for k in 1...30 {
            let due = Int64((k * 1_000_000_000 + 2) / 3)
            let early = bucket.acquire(now: .nanoseconds(due - 1))
            guard case .limited(let retryAfter, _) = early else {
                Issue.record("token \(k) passed at \(due - 1) ns, before its due time")
                return
            }
            #expect(retryAfter == .nanoseconds(1))
            #expect(bucket.acquire(now: .nanoseconds(due)).isAdmitted)
        }
    }

    /// Saturating traffic polled at irregular instants, then at the end of the span: after every poll exactly `burst + ⌊count × t ÷ period⌋`
    /// requests have passed (`t` the time since the bucket was created). The polls alternate between a token's
    /// due time, one nanosecond before it, and arbitrary instants, so that any rounding of the emission interval
    /// (either way) or any drift of the accumulated time shows. The bucket is created at `origin`, far from zero,
    /// so that a floating-point clock would lose nanoseconds.
    private func saturate(count: Int, period: Duration, burst: Int, span: Duration, polls: Int) {
        let origin = Duration.seconds(3_000_000_000)  // 95 years of uptime
        let bucket = TokenBucket(policy: RateLimitPolicy(count: count, per: period, burst: burst), now: origin)
        let periodNs = Int128(period.wholeNanoseconds), spanNs = Int128(span.wholeNanoseconds)
        let count128 = Int128(count)
        var passed = 0
        var wrongPolls = 0
        for poll in 0...polls + 1 {
            let tokensDue = count128 * spanNs * Int128(poll) / Int128(polls) / periodNs
            let due = (tokensDue * periodNs + count128 - 1) / count128
            let t: Int128 =
                switch poll == polls + 1 ? -1 : poll % 3 {
                case -1: spanNs
                case 0: due
                case 1: max(due - 1, 0)
                default: due + Int128(poll * 7919) % (periodNs / count128 + 1)
                }
            let now = origin + .nanoseconds(Int64(t))
            while bucket.acquire(now: now).isAdmitted { passed += 1 }
            if passed != burst + Int(count128 * t / periodNs) { wrongPolls += 1 }
        }
        #expect(wrongPolls == 0)
        #expect(passed == burst + Int(count128 * spanNs / periodNs))
    }

    @Test func exactRefillAtThreePerSecond() {
        // 750 000 tokens over 250 000 s (a million seconds would be 3 million calls: too slow for a debug test).
        saturate(count: 3, period: .seconds(1), burst: 3000, span: .seconds(250_000), polls: 300)
    }

    @Test func exactRefillAtSevenPerSecondAndSevenPerMinute() {
        saturate(count: 7, period: .seconds(1), burst: 2800, span: .seconds(100_000), polls: 300)
        // A million seconds at 7 per minute: 116 666 tokens, 60 s ÷ 7 not a whole number of nanoseconds either.
        saturate(count: 7, period: .seconds(60), burst: 400, span: .seconds(1_000_000), polls: 400)
    }

    @Test func exactRefillAtFiftyThousandPerSecond() {
        saturate(count: 50_000, period: .seconds(1), burst: 60_000, span: .seconds(4), polls: 6)
    }

    @Test func paceHoldsRequestsOneIntervalApart() {
        let bucket = TokenBucket(
            policy: RateLimitPolicy(count: 1000, per: .seconds(1), burst: 2, pace: .milliseconds(5)), now: .zero)
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 1, reset: .milliseconds(1)))
        #expect(bucket.acquire(now: .zero) == .allowed(remaining: 0, reset: .milliseconds(2)))
        for k in 1...5 {
            #expect(bucket.acquire(now: .zero) == .delayed(.milliseconds(k), remaining: 0, reset: .milliseconds(2 + k)))
        }
        // The sixth would wait 6 ms, beyond the pace: refused, and nothing reserved.
        #expect(bucket.acquire(now: .zero) == .limited(retryAfter: .milliseconds(6), reset: .milliseconds(7)))
        #expect(bucket.acquire(now: .zero) == .limited(retryAfter: .milliseconds(6), reset: .milliseconds(7)))
        // 1 ms later the queue has moved by one: the next waits exactly the pace.
        #expect(bucket.acquire(now: .milliseconds(1)) == .delayed(.milliseconds(5), remaining: 0, reset: .milliseconds(7)))
        #expect(bucket.available(now: .milliseconds(1)) == 0)
        #expect(bucket.available(now: .milliseconds(7)) == 1)
        #expect(bucket.available(now: .milliseconds(8)) == 2)
    }

    @Test func paceAtAFractionalIntervalStaysExact() {
        // 3/s, burst 1, pace 1 s: the held requests are due at exactly k/3 s (rounded up to the nanosecond).
        let bucket = TokenBucket(
            policy: RateLimitPolicy(count: 3, per: .seconds(1), burst: 1, pace: .seconds(1)), now: .zero)
        #expect(bucket.acquire(now: .zero).isAdmitted)
        #expect(bucket.acquire(now: .zero) == .delayed(.nanoseconds(333_333_334), remaining: 0, reset: .nanoseconds(666_666_667)))
        #expect(bucket.acquire(now: .zero) == .delayed(.nanoseconds(666_666_667), remaining: 0, reset: .seconds(1)))
        #expect(bucket.acquire(now: .zero) == .delayed(.seconds(1), remaining: 0, reset: .nanoseconds(1_333_333_334)))
        #expect(bucket.acquire(now: .zero) == .limited(retryAfter: .nanoseconds(1_333_333_334), reset: .nanoseconds(1_333_333_334)))
    }

    @Test func timeGoingBackwardsGrantsNothingExtra() {
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 10, per: .seconds(1), burst: 2), now: .seconds(50))
        let now = Duration.seconds(100)
        #expect(bucket.acquire(now: now).isAdmitted)
        #expect(bucket.acquire(now: now).isAdmitted)
        // Earlier instants see a bigger debt, never a refill.
        #expect(bucket.acquire(now: now - .milliseconds(1)) == .limited(retryAfter: .milliseconds(101), reset: .milliseconds(201)))
        #expect(bucket.acquire(now: .seconds(1)) == .limited(retryAfter: .seconds(99) + .milliseconds(100), reset: .seconds(99) + .milliseconds(200)))
        #expect(bucket.available(now: .seconds(1)) == 0)
        // Extreme instants do not trap.
        #expect(!bucket.acquire(now: .nanoseconds(Int64.min)).isAdmitted)
        #expect(bucket.available(now: .seconds(-1_000_000_000_000)) == 0)
        #expect(bucket.acquire(now: .nanoseconds(Int64.max)) == .allowed(remaining: 1, reset: .milliseconds(100)))
        // …and moving back from there still grants nothing.
        #expect(!bucket.acquire(now: now + .seconds(10)).isAdmitted)
        // A full bucket used at an earlier instant than its creation: still only its burst.
        let fresh = TokenBucket(policy: RateLimitPolicy(count: 10, per: .seconds(1), burst: 2), now: .seconds(100))
        #expect(fresh.available(now: .seconds(100)) == 2)
        #expect(fresh.available(now: .milliseconds(99_900)) == 1)
        var passed = 0
        for now in [Duration.seconds(100), .milliseconds(99_950), .seconds(100), .milliseconds(99_990)] {
            if fresh.acquire(now: now).isAdmitted { passed += 1 }
        }
        #expect(passed == 2)
    }

    @Test func decisionAccessors() {
        let allowed = RateLimitDecision.allowed(remaining: 4, reset: .seconds(1))
        let delayed = RateLimitDecision.delayed(.milliseconds(5), remaining: 0, reset: .seconds(2))
        let limited = RateLimitDecision.limited(retryAfter: .milliseconds(7), reset: .seconds(3))
        #expect(allowed.isAdmitted && delayed.isAdmitted && !limited.isAdmitted)
        #expect(allowed.remaining == 4 && delayed.remaining == 0 && limited.remaining == 0)
        #expect(allowed.reset == .seconds(1) && delayed.reset == .seconds(2) && limited.reset == .seconds(3))
    }
}
