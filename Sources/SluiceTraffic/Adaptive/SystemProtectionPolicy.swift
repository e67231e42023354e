/// The `[protection]` section: when the gateway as a whole carries more requests than it can process, shed the least
/// important first (Sentinel's system rule with its BBR check, Kratos's BBR limiter). See `SystemProtection` for the
/// rule; the defaults suit a gateway answering in about 1–50 ms.
public struct SystemProtectionPolicy: Sendable, Equatable {
    /// A hard cap on requests in flight through the gateway: at or above it, every request is refused, `core`
    /// included. nil: no cap.
    public let maxInflight: Int?
    /// Whether the adaptive (BBR) check runs. Without it only `maxInflight` applies.
    public let adaptive: Bool
    /// While shedding, `optional` requests are refused once in-flight ≥ `optionalShare` × the estimated capacity
    /// (default 0.8: a fifth of the capacity stays for the routes that matter).
    public let optionalShare: Double
    /// While shedding, `normal` requests are refused once in-flight ≥ `normalShare` × the estimated capacity (default
    /// 1: Sentinel's `inflight > maxSuccessQps × minRt`). `core` requests are never shed by the adaptive check, only by
    /// `maxInflight`.
    public let normalShare: Double
    /// The statistics window: completions and latencies are counted in `buckets` buckets of `window ÷ buckets`, and
    /// the best throughput is taken over the last `window` (default 1 s in 10: Sentinel's one second, which it splits
    /// in 2, in Kratos's 100 ms buckets). Each window starts with a probing bucket (see `SystemProtection`).
    public let window: Duration
    public let buckets: Int
    /// How far back the minimum RT looks (default 10 s: Kratos's window and BBR's RTprop filter; a multiple of the
    /// bucket length). Longer than `window` on purpose: during an overload every recent bucket is slow, and a minimum
    /// taken over them would call the congestion normal, raise the estimate to the in-flight count and stop the
    /// shedding.
    public let minRTWindow: Duration
    /// The least minimum RT used in the estimate (default 1 ms), so that very fast answers do not shrink the
    /// estimated capacity toward nothing.
    public let minRTFloor: Duration
    /// How long shedding stays on once it starts, and after the last sign of overload (inflated latency, or demand
    /// at least the best throughput) while on (default 1 s, Kratos's cool-down). While on, the thresholds apply
    /// even if the latency has recovered, which it does precisely because requests are being shed.
    public let recovery: Duration
    /// The overload signal that starts shedding: the last complete bucket's mean latency is at least this multiple
    /// of the minimum RT, the best bucket mean over `minRTWindow` (default 1.5). Sentinel gates its BBR check on the
    /// system load and Kratos on the CPU; at 1 or less the gate is open whenever the last bucket has
    /// `minBucketSamples`, which leaves Sentinel's check alone.
    public let overloadLatencyRatio: Double
    /// Buckets with fewer completions than this (default 20, so 200 requests per second with the default buckets) give
    /// no latency: too few samples make a noisy mean, and a gateway that quiet needs no adaptive shedding.
    public let minBucketSamples: Int

    public init(
        maxInflight: Int? = nil,
        adaptive: Bool = true,
        optionalShare: Double = 0.8,
        normalShare: Double = 1,
        window: Duration = .seconds(1),
        buckets: Int = 10,
        minRTWindow: Duration = .seconds(10),
        minRTFloor: Duration = .milliseconds(1),
        recovery: Duration = .seconds(1),
        overloadLatencyRatio: Double = 1.5,
        minBucketSamples: Int = 20
    ) {
        precondition(maxInflight.map { $0 >= 1 } ?? true, "the hard cap is at least one request")
        precondition(optionalShare > 0 && optionalShare <= normalShare, "optional is shed first: 0 < optional ≤ normal")
        precondition(buckets >= 1 && window / buckets > .zero, "the window holds at least one non-empty bucket")
        precondition(minRTWindow >= window, "the minimum RT looks back at least one window")
        precondition(minRTFloor > .zero, "the minimum RT floor is positive")
        precondition(recovery >= .zero, "the recovery time is not negative")
        precondition(overloadLatencyRatio > 0, "the latency ratio is positive")
        precondition(minBucketSamples >= 1, "a bucket needs at least one sample for a latency")
        self.maxInflight = maxInflight
        self.adaptive = adaptive
        self.optionalShare = optionalShare
        self.normalShare = normalShare
        self.window = window
        self.buckets = buckets
        self.minRTWindow = minRTWindow
        self.minRTFloor = minRTFloor
        self.recovery = recovery
        self.overloadLatencyRatio = overloadLatencyRatio
        self.minBucketSamples = minBucketSamples
    }
}
