import Testing

@testable import SluiceTraffic

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (draft-ietf-httpapi-ratelimit-headers) and
/// `Retry-After`.
@Suite struct RateLimitHeadersTests {
    let policy = RateLimitPolicy(count: 1000, per: .seconds(1), burst: 200)

    private func fields(_ decision: RateLimitDecision) -> [String] {
        RateLimitHeaders.fields(limit: policy, decision: decision).map { "\($0.name): \($0.value)" }
    }

    @Test func allowed() {
        #expect(fields(.allowed(remaining: 199, reset: .milliseconds(1))) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 199", "RateLimit-Reset: 1",
        ])
        #expect(fields(.allowed(remaining: 0, reset: .seconds(2))) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 0", "RateLimit-Reset: 2",
        ])
        #expect(fields(.allowed(remaining: 5, reset: .seconds(2) + .nanoseconds(1))) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 5", "RateLimit-Reset: 3",
        ])
        #expect(fields(.allowed(remaining: 200, reset: .zero)) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 200", "RateLimit-Reset: 0",
        ])
    }

    @Test func delayedHasNoRetryAfter() {
        #expect(fields(.delayed(.milliseconds(300), remaining: 0, reset: .milliseconds(500))) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 0", "RateLimit-Reset: 1",
        ])
    }

    @Test func limitedAddsRetryAfterOfAtLeastOneSecond() {
        #expect(fields(.limited(retryAfter: .milliseconds(1), reset: .milliseconds(200))) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 0", "RateLimit-Reset: 1", "Retry-After: 1",
        ])
        #expect(fields(.limited(retryAfter: .seconds(2), reset: .seconds(2))) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 0", "RateLimit-Reset: 2", "Retry-After: 2",
        ])
        #expect(fields(.limited(retryAfter: .milliseconds(2001), reset: .seconds(60))) == [
            "RateLimit-Limit: 1000", "RateLimit-Remaining: 0", "RateLimit-Reset: 60", "Retry-After: 3",
        ])
        #expect(fields(.limited(retryAfter: .zero, reset: .zero)).last == "Retry-After: 1")
    }

    @Test func negativeDurationsCountAsZero() {
        #expect(RateLimitHeaders.secondsRoundedUp(.seconds(-3)) == 0)
        #expect(RateLimitHeaders.secondsRoundedUp(.nanoseconds(-1)) == 0)
        #expect(RateLimitHeaders.secondsRoundedUp(.nanoseconds(1)) == 1)
    }

    @Test func fromARealBucket() {
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 60, per: .seconds(60), burst: 2), now: .zero)
        let limit = bucket.policy
        let first = RateLimitHeaders.fields(limit: limit, decision: bucket.acquire(now: .zero))
        #expect(first.map(\.value) == ["60", "1", "1"])
        _ = bucket.acquire(now: .zero)
        let refused = RateLimitHeaders.fields(limit: limit, decision: bucket.acquire(now: .milliseconds(400)))
        #expect(refused.map(\.name) == ["RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "Retry-After"])
        #expect(refused.map(\.value) == ["60", "0", "2", "1"])
    }
}
