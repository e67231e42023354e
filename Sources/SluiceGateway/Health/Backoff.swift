import SluiceTraffic
/// Exponential backoff with full jitter, for the pause before a retry.
///
/// Attempt `n` (1 for the first retry) waits a uniform draw, to the nanosecond, from
/// `0...min(max, base × 2^(n−1))` (AWS's "full jitter"; Envoy's jittered backoff draws from
/// `[0, min(max, base × (2^n − 1)))`). Full jitter spreads a burst of retries over the whole window instead of
/// bunching them at its end, which is what keeps retries from arriving as a second wave.
enum Backoff {
    static func delay(
        attempt: Int, base: Duration, max: Duration, using rng: inout some RandomNumberGenerator
    ) -> Duration {
        let ceiling = Self.ceiling(attempt: attempt, base: base, max: max)
        guard ceiling > 0 else { return .zero }
        return .nanoseconds(Int64.random(in: 0...ceiling, using: &rng))
    }

    /// The upper bound of attempt `attempt`'s draw, in nanoseconds: `min(max, base × 2^(attempt−1))`, without
    /// overflowing for large attempts.
    static func ceiling(attempt: Int, base: Duration, max: Duration) -> Int64 {
        let baseNanos = Swift.max(base.wholeNanoseconds, 0)
        let maxNanos = Swift.max(max.wholeNanoseconds, 0)
        let shift = Swift.max(attempt - 1, 0)
        if baseNanos == 0 { return 0 }
        guard shift < 63, baseNanos <= maxNanos >> shift else { return maxNanos }
        return Swift.min(baseNanos << shift, maxNanos)
    }
}
