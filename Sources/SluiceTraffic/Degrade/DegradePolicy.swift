/// A route's degrade rule (Sentinel's `DegradeRule`), from the gateway lines
/// `degrade = slow=500ms ratio=50% window=10s min_requests=20 recovery=30s`,
/// `degrade = error_ratio=50% window=10s min_requests=20 recovery=30s` and
/// `degrade = error_count=100 window=60s recovery=30s`.
///
/// Sentinel's fields map as: `grade` + `count` + `slowRatioThreshold` → `trigger`, `statIntervalMs` → `window`,
/// `minRequestAmount` → `minRequests`, `timeWindow` → `recovery`. Defaults: a 10s window and 20 requests (the
/// gateway's usual values; Sentinel: 1s and 5), 30s recovery (Sentinel has no default).
public struct DegradePolicy: Sendable, Equatable {
    public enum Trigger: Sendable, Equatable {
        /// Requests that take strictly longer than `slowerThan` are slow; degrade when more than `percent` of the
        /// window's requests are slow (at 100%: when all are). Sentinel's `SLOW_REQUEST_RATIO`.
        case slowRatio(slowerThan: Duration, percent: Double)
        /// Degrade when more than `percent` of the window's requests failed (at 100%: when all did).
        /// Sentinel's `ERROR_RATIO`.
        case errorRatio(percent: Double)
        /// Degrade when more than this many of the window's requests failed. Sentinel's `ERROR_COUNT`.
        case errorCount(Int)
    }

    public let trigger: Trigger
    /// The statistics window, counted in `DegradeRule.bucketCount` buckets.
    public let window: Duration
    /// The rule does not judge a window with fewer requests (applies to every trigger, as in Sentinel).
    public let minRequests: Int
    /// How long the route stays degraded before one probe is let through.
    public let recovery: Duration

    public init(
        trigger: Trigger, window: Duration = .seconds(10), minRequests: Int = 20, recovery: Duration = .seconds(30)
    ) {
        switch trigger {
        case .slowRatio(let slowerThan, let percent):
            precondition(slowerThan >= .zero, "the slow threshold is not negative")
            precondition(percent >= 0 && percent <= 100, "the slow ratio is a percentage")
        case .errorRatio(let percent):
            precondition(percent >= 0 && percent <= 100, "the error ratio is a percentage")
        case .errorCount(let count):
            precondition(count >= 0, "the error count is not negative")
        }
        precondition(window.wholeNanoseconds >= Int64(DegradeRule.bucketCount), "the window is positive")
        precondition(minRequests >= 1, "minRequests is at least 1")
        precondition(recovery > .zero, "the recovery time is positive")
        self.trigger = trigger
        self.window = window
        self.minRequests = minRequests
        self.recovery = recovery
    }

    /// Whether a request that took `latency` is slow (only a `slowRatio` rule has slow requests).
    public func isSlow(_ latency: Duration) -> Bool {
        if case .slowRatio(let slowerThan, _) = trigger { return latency > slowerThan }
        return false
    }
}
