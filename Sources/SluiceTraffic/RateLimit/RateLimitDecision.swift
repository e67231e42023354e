/// What a rate limiter says about one request.
///
/// Durations are rounded up to whole nanoseconds, so a caller that waits exactly as told is never early.
/// `remaining` counts whole tokens left after this decision; `reset` is the time until the bucket would be full
/// again if no further request came (the `RateLimit-Reset` of `RateLimitHeaders`).
public enum RateLimitDecision: Sendable, Equatable {
    /// Pass now.
    case allowed(remaining: Int, reset: Duration)
    /// Pass after holding the request for the given time (the policy's `pace`): its token is already reserved, so
    /// the caller must not ask again, only wait. `remaining` is always 0 here.
    case delayed(Duration, remaining: Int, reset: Duration)
    /// Refuse. `retryAfter` is the time until one token is free (without pacing); nothing was reserved.
    case limited(retryAfter: Duration, reset: Duration)

    /// True for `.allowed` and `.delayed`: the request goes through (possibly later).
    public var isAdmitted: Bool {
        if case .limited = self { return false }
        return true
    }

    /// Whole tokens left after this decision (0 when delayed or limited).
    public var remaining: Int {
        switch self {
        case .allowed(let remaining, _), .delayed(_, let remaining, _): remaining
        case .limited: 0
        }
    }

    /// Time until the bucket would be full again.
    public var reset: Duration {
        switch self {
        case .allowed(_, let reset), .delayed(_, _, let reset), .limited(_, let reset): reset
        }
    }
}
