import Testing

@testable import SluiceTraffic

/// The policy's defaults and preconditions.
@Suite struct RateLimitPolicyTests {
    @Test func defaultsAndEquality() {
        let policy = RateLimitPolicy(count: 1000, per: .seconds(1))
        #expect(policy.count == 1000 && policy.period == .seconds(1) && policy.burst == 1000)
        #expect(policy.warmup == nil && policy.pace == nil)
        #expect(policy == RateLimitPolicy(count: 1000, per: .seconds(1), burst: 1000))
        #expect(policy != RateLimitPolicy(count: 1000, per: .seconds(1), burst: 200))
        let full = RateLimitPolicy(count: 1000, per: .seconds(1), burst: 200, warmup: .seconds(10), pace: .milliseconds(500))
        #expect(full.burst == 200 && full.warmup == .seconds(10) && full.pace == .milliseconds(500))
    }

    @Test func extremesWithinTheBoundsWork() {
        let huge = TokenBucket(policy: RateLimitPolicy(count: 1 << 40, per: .nanoseconds(1), burst: 1 << 40), now: .zero)
        #expect(huge.available(now: .zero) == 1 << 40)
        #expect(huge.acquire(now: .seconds(1_000_000)) == .allowed(remaining: (1 << 40) - 1, reset: .nanoseconds(1)))
        let slow = TokenBucket(policy: RateLimitPolicy(count: 1, per: .seconds(86_400 * 365), burst: 10), now: .zero)
        #expect(slow.acquire(now: .zero) == .allowed(remaining: 9, reset: .seconds(86_400 * 365)))
    }

    @Test func invalidPoliciesStopTheProcess() async {
        await #expect(processExitsWith: .failure) { _ = RateLimitPolicy(count: 0, per: .seconds(1)) }
        await #expect(processExitsWith: .failure) { _ = RateLimitPolicy(count: 1, per: .zero) }
        await #expect(processExitsWith: .failure) { _ = RateLimitPolicy(count: 1, per: .seconds(1), burst: 0) }
        await #expect(processExitsWith: .failure) { _ = RateLimitPolicy(count: 1, per: .seconds(1), pace: .zero) }
        await #expect(processExitsWith: .failure) { _ = RateLimitPolicy(count: 1, per: .seconds(1), warmup: .zero) }
        await #expect(processExitsWith: .failure) {
            _ = RateLimitPolicy(count: 1, per: .seconds(1) + .nanoseconds(1) / 2)  // not whole nanoseconds
        }
        await #expect(processExitsWith: .failure) {
            _ = RateLimitPolicy(count: 1, per: .seconds(100 * 365 * 86_400))  // beyond 73 years
        }
    }
}
