public import SluiceTraffic

/// An adaptive concurrency limit inside a backend: the gateway's gradient limiter (`AdaptiveConcurrencyLimiter`),
/// which raises the limit while latency stays near its minimum and lowers it when latency grows or answers show
/// overload. Past the limit requests get 503 at once instead of queueing (Netflix's concurrency-limits, Envoy's
/// adaptive_concurrency). The limiter is made once, with the middleware; pass your own to read its state.
public func ConcurrencyLimit(_ limiter: AdaptiveConcurrencyLimiter) -> Handler {
    { c in
        guard let permit = limiter.tryAcquire(now: MonotonicClock.now) else {
            c.abort()
            c.setHeader("retry-after", "1")
            c.errorAnswer(.serviceUnavailable, "too many requests in progress")
            return
        }
        c.onFinish { c in
            let now = MonotonicClock.now
            switch c.responseStatus.code {
            case 500...:
                // 503 and 504 are the backend saying it is overloaded; other 5xx are failures without a sample.
                limiter.drop(permit, overloaded: c.responseStatus.code == 503 || c.responseStatus.code == 504, now: now)
            default:
                limiter.complete(permit, rtt: MonotonicClock.duration(since: c.startTime), now: now)
            }
        }
        try c.next()
    }
}

/// `ConcurrencyLimit` with a limiter made from `policy`.
public func ConcurrencyLimit(_ policy: AdaptiveConcurrencyPolicy = AdaptiveConcurrencyPolicy()) -> Handler {
    var random = SystemRandomNumberGenerator()
    return ConcurrencyLimit(AdaptiveConcurrencyLimiter(policy: policy, now: MonotonicClock.now, random: &random))
}
