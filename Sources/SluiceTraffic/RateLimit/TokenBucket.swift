import Synchronization

/// One token bucket shared by every event-loop thread of the process: the limit holds for the whole process, not
/// per thread (the per-worker-thread buckets behind Envoy issue #13517 let N threads admit N times the limit).
///
/// Rules:
/// - GCRA (the generic cell rate algorithm, equivalent to a token bucket): the state is the *theoretical arrival
///   time* in one `Atomic<WordPair>`, updated by a compare-exchange loop, so the bucket is lock-free and exact under
///   any interleaving: N threads asking at the same `now` get exactly the tokens there are. The bucket refills at
///   `count ÷ period` up to `burst` tokens and starts full. A refused request costs nothing.
/// - Refill is exact: time is kept in units of `1 ÷ count′` ns (`count′ = count ÷ gcd(count, period)`), so the
///   emission interval is a whole number of units even at 3/s or 7/s, and `burst + ⌊count × elapsed ÷ period⌋`
///   tokens pass over any span of saturating traffic, however long. Returned durations are rounded up to whole ns.
/// - `pace` (nginx `limit_req … burst=…` without `nodelay`): a request that finds no whole token, but would have
///   one within `pace`, reserves it at once and gets `.delayed(wait, …)`; the caller holds it for `wait`. Each
///   reservation pushes the next one a full emission interval further, so held requests leave exactly one
///   interval apart, and at most `⌊pace ÷ interval⌋` wait at a time. Unlike nginx, where `burst` is the queue and
///   every excess request is delayed (unless `nodelay`), here `burst` tokens pass at once (like nginx's `delay=`
///   set to the burst) and the queue is bounded by time, `pace`, rather than by a count.
/// - `warmup` (Guava's `SmoothWarmingUp`; cold factor 3 as in Sentinel's `WarmUpController`): besides the TAT the
///   bucket keeps a *coldness* (Guava's stored permits, measured as time at the full rate) in `0...warmup`. It
///   grows by the time the bucket spends full (idle beyond refill), and shrinks by one emission interval `T` per
///   token taken. A token taken with coldness `S` costs, instead of `T`, the mean of the interval function over
///   `[S − T, S]`: `T` up to `warmup ÷ 2`, then rising linearly to `3T` at `warmup`. Exactly as in Guava:
///   - a new bucket is cold (`S = warmup`): it passes a third of the rate (the first token costs slightly less
///     than `3T`, the mean over its slice of the slope);
///   - the costs of the tokens taken on the slope add up to exactly `warmup` (the trapezoid's area), so under
///     saturating traffic with burst 1 the full rate is reached `warmup` after the first request; from then on
///     every token costs `T`;
///   - idleness cools it again: the coldness returns to `warmup` after `warmup` of idle time (full bucket), so a
///     bucket idle that long is back at a third of the rate. Traffic below half the rate also lets it cool (Guava's
///     rule); Sentinel instead only cools below `count ÷ 3` and measures QPS in windows, which this does not do.
///   The bucket capacity stays `burst × T` of time, and a request passes while the debt leaves room for one
///   token at `T`, its cost charged after (Guava's "pay later"). So a cold bucket lets about a third of `burst`
///   through at once, a warm one all of it. With warm-up, time is counted in whole ns and each token's cost is
///   rounded up to a whole ns: the full rate may fall short of `count ÷ period` by under 1 ns per token (the
///   plain bucket is exact). `remaining` and `available` are then counted at the current per-token cost.
/// - Time going backwards (a `now` earlier than one already used, e.g. two event loops reading the clock in one
///   order and arriving in the other) never grants extra tokens: every change leaves the TAT after the `now` that
///   made it, so an earlier `now` only sees a bigger debt. Nothing traps on any `now`.
public final class TokenBucket: Sendable {
    public let policy: RateLimitPolicy
    private let gcra: GCRA
    private let state: Atomic<WordPair>

    /// A full bucket (with warm-up: a full, cold one).
    public init(policy: RateLimitPolicy, now: Duration) {
        self.policy = policy
        self.gcra = GCRA(policy: policy)
        self.state = Atomic(gcra.start(at: gcra.instant(now)))
    }

    /// Takes one token if there is one (or, with `pace`, reserves the next within reach).
    public func acquire(now: Duration) -> RateLimitDecision {
        // Relaxed is enough: the whole state is this one location, and a compare-exchange sees its latest value.
        let now = gcra.instant(now)
        var current = state.load(ordering: .relaxed)
        while true {
            let (next, decision) = gcra.acquire(current, at: now)
            guard let next else { return decision }
            let (exchanged, original) = state.compareExchange(
                expected: current, desired: next, ordering: .relaxed)
            if exchanged { return decision }
            current = original
        }
    }

    /// Whole tokens available at `now`, without taking any.
    public func available(now: Duration) -> Int {
        gcra.available(state.load(ordering: .relaxed), at: gcra.instant(now))
    }
}
