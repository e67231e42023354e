/// The ranges the numeric keys are held to. Each is far beyond any real setting and small enough that no arithmetic
/// on an accepted value can overflow, here or in the gateway that compiles the configuration (deadlines in 64-bit
/// nanoseconds, rounding up to whole seconds, bucket counts, token-bucket horizons). `etc/sluice.ini` states every
/// key's range beside it; `ConfigExtremeValueTests` feeds every key the values at and past its limits.
enum Bounds {
    static let hour = Duration.seconds(3_600)
    static let day = Duration.seconds(86_400)
    /// Timeouts, intervals, open and recovery times: above 0, at most a day.
    static let positiveDay = Duration.nanoseconds(1)...day
    /// The same where 0 is allowed (it turns something off, or means "at once").
    static let upToDay = Duration.zero...day
    /// Waits that hold a request (warm-up, pacing, injected delays, slow-loris timeouts): above 0, at most an hour.
    static let positiveHour = Duration.nanoseconds(1)...hour
    static let upToHour = Duration.zero...hour
    /// The period of a rate (`N/100ms`, `N/s`, `N/m`, `N/h`, `N/d`).
    static let ratePeriod = Duration.milliseconds(1)...day
    /// A circuit breaker's time window (one-second buckets, at most 3600 of them kept).
    static let breakerWindow = Duration.seconds(1)...day
    /// A degrade rule's window (ten buckets of at least 10ms).
    static let degradeWindow = Duration.milliseconds(100)...day
    /// 1 TiB: the largest request body limit.
    static let tebibyte = 1 << 40
}
