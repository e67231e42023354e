/// The response header fields that tell a client about its rate limit, in the three-field form of the IETF draft
/// "RateLimit header fields for HTTP" (draft-ietf-httpapi-ratelimit-headers, as defined by its revisions -00 to -06
/// and widely implemented; revision -07 folds them into structured `RateLimit` and `RateLimit-Policy` fields),
/// plus `Retry-After` (RFC 9110 §10.2.3) on a refusal.
///
/// - `RateLimit-Limit`: the policy's `count` (the quota per window; no window hint).
/// - `RateLimit-Remaining`: whole tokens left after this decision (0 when delayed or limited).
/// - `RateLimit-Reset`: seconds until the bucket is full again, rounded up, at least 0 (delta-seconds, never an
///   absolute time, as the draft requires).
/// - `Retry-After` (only on `.limited`): seconds until a token is free, rounded up, at least 1 (so that a client
///   never retries in the same second and is refused again).
public struct RateLimitHeaders: Sendable {
    public static func fields(limit policy: RateLimitPolicy, decision: RateLimitDecision)
        -> [(name: String, value: String)]
    {
        var fields: [(name: String, value: String)] = []
        write(limit: String(policy.count), decision: decision) { fields.append(($0, $1)) }
        return fields
    }

    /// The same fields, each handed to `add` as it is made (no array on the request path); `limit` is the policy's
    /// count as text, made once.
    @inlinable
    public static func write(limit: String, decision: RateLimitDecision, _ add: (String, String) -> Void) {
        add("RateLimit-Limit", limit)
        add("RateLimit-Remaining", String(max(decision.remaining, 0)))
        add("RateLimit-Reset", String(secondsRoundedUp(decision.reset)))
        if case .limited(let retryAfter, _) = decision {
            add("Retry-After", String(max(secondsRoundedUp(retryAfter), 1)))
        }
    }

    /// Whole seconds, rounded up (saturating); 0 for zero or negative durations.
    public static func secondsRoundedUp(_ duration: Duration) -> Int64 {
        guard duration > .zero else { return 0 }
        let (seconds, attoseconds) = duration.components
        return attoseconds > 0 && seconds < Int64.max ? seconds + 1 : seconds
    }
}
