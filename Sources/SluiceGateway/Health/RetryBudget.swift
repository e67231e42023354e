/// Envoy's retry budget: retries in flight may be at most `budgetPercent` of the requests in flight, but never
/// fewer than `minRetryConcurrency`, so that a quiet upstream can still retry.
///
/// `allowsRetry` is true when `activeRetries < max(⌊activeRequests × budgetPercent ÷ 100⌋, minRetryConcurrency)`,
/// as in Envoy's `RetryBudget::max()` and `canCreate()`. As there, `activeRequests` counts every request in flight
/// to the upstream, retries included.
struct RetryBudget: Sendable, Equatable {
    /// In percent, `0...100` (Envoy's `budget_percent`, default 20%).
    let budgetPercent: Double
    /// The floor on concurrent retries (Envoy's `min_retry_concurrency`, default 3).
    let minRetryConcurrency: Int

    init(budgetPercent: Double = 20, minRetryConcurrency: Int = 3) {
        precondition(budgetPercent >= 0 && budgetPercent <= 100, "the budget is a percentage")
        precondition(minRetryConcurrency >= 0)
        self.budgetPercent = budgetPercent
        self.minRetryConcurrency = minRetryConcurrency
    }

    /// The most retries allowed in flight with `activeRequests` requests in flight.
    func maxRetries(activeRequests: Int) -> Int {
        // Multiply before dividing: 20 × 15 ÷ 100 is exactly 3, where 0.2 × 15 need not be.
        let budget = Int((Double(max(activeRequests, 0)) * budgetPercent / 100).rounded(.down))
        return max(budget, minRetryConcurrency)
    }

    func allowsRetry(activeRequests: Int, activeRetries: Int) -> Bool {
        activeRetries < maxRetries(activeRequests: activeRequests)
    }
}
