/// One request admitted by an `AdaptiveConcurrencyLimiter`. Hand it back exactly once, with `complete` when the
/// upstream answered (the latency becomes a sample) or with `drop` when it did not (failure, timeout, cancellation).
public struct AdaptivePermit: Sendable, Hashable {
    /// The limiter's minRTT-measurement generation when the request was admitted: only requests admitted during the
    /// current measurement (hence at the pinned low concurrency) are minRTT samples, as in Envoy, which ignores
    /// requests sent before the measurement window started.
    let generation: UInt64
}
