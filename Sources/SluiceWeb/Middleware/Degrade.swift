public import SluiceTraffic

/// Sentinel's degrade rules inside a backend: while `rule` is degraded (too many slow or failed answers in its
/// window) requests go to `fallback` instead of the handlers, marked `Sluice-Degraded: 1`; after `recovery` one probe
/// goes through and decides. An answer counts as failed when it is a 5xx.
///
/// ```swift
/// let rule = SharedDegradeRule(policy: DegradePolicy(trigger: .errorRatio(percent: 50), window: .seconds(10),
///                                                    minRequests: 20, recovery: .seconds(5)))
/// try engine.get("/feed", Degrade(rule) { c in try c.json(.ok, cachedFeed) }, feedHandler)
/// ```
public func Degrade(_ rule: SharedDegradeRule, fallback: @escaping Handler) -> Handler {
    { c in
        let admission = rule.admit(now: MonotonicClock.now)
        if case .degraded(let retryAfter) = admission {
            c.abort()
            c.setHeader("sluice-degraded", "1")
            c.setHeader("retry-after", String(RateLimitHeaders.secondsRoundedUp(retryAfter)))
            try fallback(c)
            return
        }
        let probe = admission == .probe
        c.onFinish { c in
            _ = rule.record(
                latency: MonotonicClock.duration(since: c.startTime), failed: c.responseStatus.code >= 500,
                probe: probe, now: MonotonicClock.now)
        }
        try c.next()
    }
}
