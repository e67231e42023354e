import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Retries: the retry budget and backoff with full jitter.
@Suite struct HealthRetryTests {
    @Test func retryBudgetBoundaries() {
        let budget = RetryBudget()
        // The floor: 3 retries whatever the load.
        #expect(budget.maxRetries(activeRequests: 0) == 3)
        #expect(budget.allowsRetry(activeRequests: 0, activeRetries: 2))
        #expect(!budget.allowsRetry(activeRequests: 0, activeRetries: 3))
        #expect(budget.allowsRetry(activeRequests: 10, activeRetries: 2))
        #expect(!budget.allowsRetry(activeRequests: 10, activeRetries: 3))
        // 20% of 15 is exactly 3; of 20, 4; of 100, 20; of 104, 20.8 → 20.
        #expect(budget.maxRetries(activeRequests: 15) == 3)
        #expect(budget.maxRetries(activeRequests: 20) == 4)
        #expect(budget.allowsRetry(activeRequests: 20, activeRetries: 3))
        #expect(!budget.allowsRetry(activeRequests: 20, activeRetries: 4))
        #expect(budget.allowsRetry(activeRequests: 100, activeRetries: 19))
        #expect(!budget.allowsRetry(activeRequests: 100, activeRetries: 20))
        #expect(!budget.allowsRetry(activeRequests: 104, activeRetries: 20))
        #expect(budget.allowsRetry(activeRequests: 105, activeRetries: 20))
        // No floor, no load: no retries.
        let bare = RetryBudget(budgetPercent: 50, minRetryConcurrency: 0)
        #expect(!bare.allowsRetry(activeRequests: 1, activeRetries: 0))
        #expect(bare.allowsRetry(activeRequests: 2, activeRetries: 0))
    }

    @Test func backoffCeilingDoublesUpToTheCap() {
        let base = Duration.milliseconds(100), cap = Duration.seconds(1)
        let ceilings = (1...6).map { Backoff.ceiling(attempt: $0, base: base, max: cap) }
        #expect(ceilings == [100, 200, 400, 800, 1_000, 1_000].map { Int64($0) * 1_000_000 })
        #expect(Backoff.ceiling(attempt: 1_000, base: base, max: cap) == 1_000_000_000)
        #expect(Backoff.ceiling(attempt: 1, base: .seconds(5), max: cap) == 1_000_000_000)
        var rng = SplitMix64(state: 3)
        #expect(Backoff.delay(attempt: 3, base: .zero, max: cap, using: &rng) == .zero)
    }

    @Test func backoffDrawsCoverTheWholeWindow() {
        var rng = SplitMix64(state: 99)
        let base = Duration.milliseconds(100), cap = Duration.seconds(1)
        for attempt in 1...8 {
            let ceiling = Duration.nanoseconds(Backoff.ceiling(attempt: attempt, base: base, max: cap))
            var lowest = ceiling, highest = Duration.zero
            for _ in 0..<2_000 {
                let delay = Backoff.delay(attempt: attempt, base: base, max: cap, using: &rng)
                #expect(delay >= .zero && delay <= ceiling)
                lowest = min(lowest, delay)
                highest = max(highest, delay)
            }
            // Full jitter: from near zero to near the ceiling.
            #expect(lowest < ceiling / 50)
            #expect(highest > ceiling * 49 / 50)
        }
    }
}
