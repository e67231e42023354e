/// How an `AdaptiveConcurrencyLimiter` moves its limit (`adaptive_concurrency = on`, with `min=`, `max=`,
/// `initial=`, `tolerance=`). The defaults suit an HTTP gateway in front of services answering in about 1–50 ms; the
/// names follow Envoy's gradient controller, whose defaults are kept unless said otherwise.
public struct AdaptiveConcurrencyPolicy: Sendable, Equatable {
    /// The limit once the first minRTT measurement is done (default 20, Netflix's `initialLimit`; Envoy starts from
    /// `minLimit` and climbs from there).
    public let initialLimit: Int
    /// The lowest limit, and the concurrency the limit is pinned to while the minRTT is measured (default 3, Envoy's
    /// `min_concurrency`).
    public let minLimit: Int
    /// The highest limit (default 1000, Envoy's `max_concurrency_limit`).
    public let maxLimit: Int
    /// How much slower than the minRTT a sample may be before the limit goes down: the gradient is
    /// `rttTolerance × minRTT ÷ sampleRTT` (default 1.25: Envoy's 25% `buffer`; Netflix Gradient2 uses 1.5). The
    /// limit settles where the sampled latency is about this multiple of the uncongested one (a little above, for
    /// the √limit headroom), so this is the latency inflation the limiter accepts in exchange for throughput.
    public let rttTolerance: Double
    /// How far each update moves the limit toward the computed one, in `(0, 1]`: `limit += smoothing × (computed −
    /// limit)` (default 1: Envoy applies the computed limit as is; Netflix Gradient2 uses 0.2 because its
    /// long-term average target moves with the limit; ours does not, see the limiter).
    public let smoothing: Double
    /// The latency percentile that summarizes a window of samples, for the sample RTT and the minRTT alike (default
    /// 0.9; Envoy's `sample_aggregate_percentile` defaults to the median). Using one percentile for both is what
    /// keeps a service with a long tail from reading as congested.
    public let percentile: Double
    /// How often the limit is recalculated from the samples of the last window (default 100 ms, Envoy's
    /// `concurrency_update_interval`). A window closes at the first completion after this long that finds at least
    /// `minWindowSamples` samples in it.
    public let sampleInterval: Duration
    /// The fewest samples a window needs before it may close (default 10; Envoy closes a window on any sample).
    public let minWindowSamples: Int
    /// How often the minRTT is measured again (default 60 s), plus a random delay of up to `minRTTJitter` of it
    /// (default 0.15, Envoy's `jitter`) so that gateways sharing an upstream do not all pin at once.
    public let minRTTInterval: Duration
    public let minRTTJitter: Double
    /// How many successful requests, admitted at the pinned concurrency, make up a minRTT measurement (default 50,
    /// Envoy's `request_count`).
    public let minRTTSamples: Int
    /// The factor applied to the limit when a request is dropped for overload (a timeout, a 503, a refused
    /// connection), at most once per `sampleInterval` (default 0.9, Netflix's AIMD `backoffRatio`).
    public let dropBackoff: Double

    public init(
        initialLimit: Int = 20,
        minLimit: Int = 3,
        maxLimit: Int = 1000,
        rttTolerance: Double = 1.25,
        smoothing: Double = 1,
        percentile: Double = 0.9,
        sampleInterval: Duration = .milliseconds(100),
        minWindowSamples: Int = 10,
        minRTTInterval: Duration = .seconds(60),
        minRTTJitter: Double = 0.15,
        minRTTSamples: Int = 50,
        dropBackoff: Double = 0.9
    ) {
        precondition(minLimit >= 1, "the minimum limit is at least one request")
        precondition(minLimit <= maxLimit, "the minimum limit cannot exceed the maximum")
        precondition(initialLimit >= minLimit && initialLimit <= maxLimit, "the initial limit is within [min, max]")
        precondition(rttTolerance >= 1, "a tolerance below 1 would shrink the limit of an idle upstream")
        precondition(smoothing > 0 && smoothing <= 1, "smoothing is in (0, 1]")
        precondition(percentile > 0 && percentile <= 1, "the percentile is in (0, 1]")
        precondition(sampleInterval > .zero && minRTTInterval > .zero, "the intervals are positive")
        precondition(minWindowSamples >= 1 && minRTTSamples >= 1, "a window needs at least one sample")
        precondition(minRTTJitter >= 0 && minRTTJitter <= 1, "the jitter is a fraction of the interval")
        precondition(dropBackoff > 0 && dropBackoff <= 1, "the backoff is a factor in (0, 1]")
        self.initialLimit = initialLimit
        self.minLimit = minLimit
        self.maxLimit = maxLimit
        self.rttTolerance = rttTolerance
        self.smoothing = smoothing
        self.percentile = percentile
        self.sampleInterval = sampleInterval
        self.minWindowSamples = minWindowSamples
        self.minRTTInterval = minRTTInterval
        self.minRTTJitter = minRTTJitter
        self.minRTTSamples = minRTTSamples
        self.dropBackoff = dropBackoff
    }
}
