/// The settings of one upstream's circuit breaker (resilience4j's `CircuitBreakerConfig`), from the gateway line
/// `circuit_breaker = failure_rate=50% slow_call=1s slow_rate=80% window=100 min_calls=20 open=30s half_open=5
/// half_open_timeout=10s`.
///
/// Defaults are resilience4j's except where a gateway wants otherwise: `minCalls` 20 (resilience4j: 100, which
/// with its 100-call window means "a full window"), `openDuration` 30s (resilience4j: 60s), and the slow-call rule
/// off unless `slowCallThreshold` is set (resilience4j: 60s and 100%, which is off in practice).
/// `halfOpenTimeout` has no resilience4j counterpart with the same meaning (its `maxWaitDurationInHalfOpenState`
/// defaults to 0, "wait forever", the half-open hang of resilience4j #935); its default, 30s, is longer than any
/// sensible request timeout so that it only catches probes whose outcome was lost.
public struct CircuitBreakerPolicy: Sendable, Equatable {
    /// The closed state's sliding window.
    public enum Window: Sendable, Equatable {
        /// The last `n` calls (resilience4j's `COUNT_BASED`).
        case calls(Int)
        /// The calls that ended in the last `duration`, in one-second buckets (resilience4j's `TIME_BASED`);
        /// a window that is not a whole number of seconds gets `⌈seconds⌉` equal buckets, at most 3600.
        case time(Duration)
    }

    public let window: Window
    /// The breaker does not judge a window with fewer calls (resilience4j's `minimumNumberOfCalls`). With a
    /// count window the effective minimum is `min(minCalls, n)`, as in resilience4j.
    public let minCalls: Int
    /// Opens when failed ÷ calls ≥ this, in percent, `0 < x ≤ 100`.
    public let failureRatePercent: Double
    /// A call that takes strictly longer than this is slow (resilience4j compares with `>`); `nil` turns the
    /// slow-call rule off.
    public let slowCallThreshold: Duration?
    /// Opens when slow ÷ calls ≥ this, in percent, `0 < x ≤ 100`. Slow calls include slow failures.
    public let slowCallRatePercent: Double
    /// How long the breaker stays open before letting probes through.
    public let openDuration: Duration
    /// How many probes half-open hands out; their outcomes decide (resilience4j's
    /// `permittedNumberOfCallsInHalfOpenState`).
    public let halfOpenCalls: Int
    /// A probe that has not reported this long after it was admitted counts as failed.
    public let halfOpenTimeout: Duration

    public init(
        window: Window = .calls(100),
        minCalls: Int = 20,
        failureRatePercent: Double = 50,
        slowCallThreshold: Duration? = nil,
        slowCallRatePercent: Double = 100,
        openDuration: Duration = .seconds(30),
        halfOpenCalls: Int = 10,
        halfOpenTimeout: Duration = .seconds(30)
    ) {
        switch window {
        case .calls(let count): precondition(count >= 1, "a count window holds at least one call")
        case .time(let span): precondition(span >= .seconds(1), "a time window spans at least one second")
        }
        precondition(minCalls >= 1, "minCalls is at least 1")
        precondition(failureRatePercent > 0 && failureRatePercent <= 100, "failure rate threshold in (0, 100]")
        precondition(slowCallThreshold.map { $0 >= .zero } ?? true, "the slow-call threshold is not negative")
        precondition(slowCallRatePercent > 0 && slowCallRatePercent <= 100, "slow call rate threshold in (0, 100]")
        precondition(openDuration > .zero, "the open duration is positive")
        precondition(halfOpenCalls >= 1, "half-open admits at least one probe")
        precondition(halfOpenTimeout > .zero, "the half-open timeout is positive")
        self.window = window
        self.minCalls = minCalls
        self.failureRatePercent = failureRatePercent
        self.slowCallThreshold = slowCallThreshold
        self.slowCallRatePercent = slowCallRatePercent
        self.openDuration = openDuration
        self.halfOpenCalls = halfOpenCalls
        self.halfOpenTimeout = halfOpenTimeout
    }

    /// Whether a call that took `duration` is slow.
    public func isSlow(_ duration: Duration) -> Bool {
        guard let threshold = slowCallThreshold else { return false }
        return duration > threshold
    }
}
