/// A local rate limit: `count` tokens per `period`, a bucket of `burst` tokens, optionally paced and warmed up
/// (`rate_limit = 1000/s burst=200 warmup=10s pace=500ms`; the key and the mode are the gateway's business).
///
/// - The bucket refills continuously at `count / period` (one token every *emission interval* `period / count`,
///   kept exact even when that is not a whole number of nanoseconds) and holds at most `burst` tokens. A new
///   bucket is full.
/// - `pace`: a request that finds no token free, but would have one within `pace`, reserves it and is held until
///   then (nginx `limit_req` without `nodelay`; see `TokenBucket`). Without it such requests are refused at once.
/// - `warmup`: a bucket that has been idle starts at `count / 3` per `period` and reaches the full rate after
///   `warmup` of sustained traffic (Guava's `SmoothWarmingUp`, cold factor 3 as in Sentinel; see `TokenBucket`).
///
/// The config layer validates user input; the initialiser only checks its preconditions.
public struct RateLimitPolicy: Sendable, Equatable {
    /// Tokens per `period`, `1...2⁴⁰`.
    public let count: Int
    /// The refill period (`/s`, `/m`, `/h`…), a positive whole number of nanoseconds.
    public let period: Duration
    /// The bucket capacity, at least 1: how many requests may pass back to back after a quiet spell.
    public let burst: Int
    /// The ramp from a third of the rate to the full rate after idleness, or `nil` for none.
    public let warmup: Duration?
    /// The longest a request may be held waiting for its token, or `nil` to refuse instead of holding.
    public let pace: Duration?

    /// `burst` defaults to `count`, as in the config. Preconditions: `count` in `1...2⁴⁰`; `period`, `warmup` and
    /// `pace` positive whole nanoseconds; `burst ≥ 1`; the bucket's horizon `burst × period ÷ count + pace` (with
    /// a warm-up: `(burst + 3) × ⌈period ÷ count⌉ + pace`) and `warmup` at most 2⁶¹ ns (73 years), so that every
    /// quantity fits the bucket's arithmetic.
    public init(count: Int, per period: Duration, burst: Int? = nil, warmup: Duration? = nil, pace: Duration? = nil) {
        let burst = burst ?? count
        precondition(count >= 1 && count <= 1 << 40, "count must be in 1...2^40")
        precondition(burst >= 1, "burst must be at least 1")
        precondition(Self.isWholePositive(period), "period must be a positive whole number of nanoseconds")
        if let warmup {
            precondition(Self.isWholePositive(warmup), "warmup must be a positive whole number of nanoseconds")
            precondition(warmup.wholeNanoseconds <= Self.horizonLimit, "warmup too long")
        }
        if let pace {
            precondition(Self.isWholePositive(pace), "pace must be a positive whole number of nanoseconds")
        }
        let horizon =
            Int128(burst) * Int128(period.wholeNanoseconds) / Int128(count) + Int128(pace?.wholeNanoseconds ?? 0)
        precondition(horizon <= Int128(Self.horizonLimit), "burst × period ÷ count + pace too long")
        if warmup != nil {
            let interval = (Int128(period.wholeNanoseconds) + Int128(count) - 1) / Int128(count)
            let warmHorizon = (Int128(burst) + 3) * interval + Int128(pace?.wholeNanoseconds ?? 0)
            precondition(warmHorizon <= Int128(Self.horizonLimit), "burst × period ÷ count + pace too long")
        }
        self.count = count
        self.period = period
        self.burst = burst
        self.warmup = warmup
        self.pace = pace
    }

    static let horizonLimit: Int64 = 1 << 61

    private static func isWholePositive(_ duration: Duration) -> Bool {
        duration > .zero && duration.components.attoseconds % 1_000_000_000 == 0
            && duration.wholeNanoseconds < .max
    }
}
