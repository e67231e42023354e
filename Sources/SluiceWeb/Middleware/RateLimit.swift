public import SluiceTraffic

/// What a `RateLimit` counts requests by.
public enum RateLimitKey: Sendable {
    /// One bucket for everything behind the middleware.
    case global
    /// One bucket per client address (as seen on the socket).
    case clientIP
    /// One bucket per value of a request header (e.g. an API key); requests without it share one bucket.
    case header(String)
    /// One bucket per value the closure returns (nil: the shared bucket).
    case custom(@Sendable (Context) -> String?)
}

/// Token-bucket rate limiting inside a backend, with the gateway's own `KeyedRateLimiter` (Sentinel's flow rules
/// in a Gin app): `RateLimit(RateLimitPolicy(count: 100, per: .seconds(1)), key: .clientIP)`.
///
/// Refused requests get 429 with `Retry-After` and the `RateLimit-*` fields; admitted ones get `RateLimit-*` too.
/// The buckets are made once, when the middleware is made; keys are bounded by `maxKeys` (least recently used go).
public func RateLimit(_ policy: RateLimitPolicy, key: RateLimitKey = .clientIP, maxKeys: Int = 100_000) -> Handler {
    let limiter = KeyedRateLimiter(policy: policy, maxKeys: maxKeys, now: MonotonicClock.now)
    let limitText = String(policy.count)
    return { c in
        let name: String
        switch key {
        case .global: name = ""
        case .clientIP: name = c.clientIP ?? ""
        case .header(let header): name = c.header(header) ?? ""
        case .custom(let make): name = make(c) ?? ""
        }
        let decision = limiter.acquire(key: name, now: MonotonicClock.now)
        RateLimitHeaders.write(limit: limitText, decision: decision) { c.addKnownValidHeader($0, $1) }
        guard decision.isAdmitted else {
            c.abort()
            c.errorAnswer(.tooManyRequests, "too many requests")
            return
        }
        try c.next()
    }
}
