import Synchronization

/// The arithmetic shared by `TokenBucket` (one lock-free bucket) and `KeyedRateLimiter` (a table of them): the
/// generic cell rate algorithm over a two-word state, as pure functions `state, now → new state, decision`.
///
/// GCRA keeps one instant, the *theoretical arrival time* (TAT): the bucket is full when `TAT ≤ now`, and
/// `debt = max(TAT − now, 0)` is how much refill time it is short of full. With `T` the emission interval
/// (`period ÷ count`) and `capacity = burst × T`, whole tokens available are `⌊(capacity − debt) ÷ T⌋`. A request
/// passes when `debt + T ≤ capacity` and then moves `TAT` to `max(TAT, now) + cost` (`cost = T` without warm-up).
/// A refused request changes nothing. This is a token bucket, stated as the time its tokens run out.
///
/// Two encodings of the state, chosen by the policy:
/// - Without warm-up (exact): time is counted in units of `1 ÷ count′` ns, where `count′ = count ÷ g`,
///   `period′ = period_ns ÷ g`, `g = gcd(count, period_ns)`. Then `T = period′` units is an integer and nothing is
///   ever rounded: 3/s is `T = 10⁹` units of ⅓ ns. The TAT is an `Int128` in those units, split over the
///   `WordPair` (low word first).
/// - With warm-up: `first` is the TAT in ns (`Int64`), `second` the coldness (Guava's stored permits, measured as
///   time: see `TokenBucket`) in ns. The per-token cost is rounded up to whole ns, so the full rate is at most
///   `count ÷ period` and below it by less than 1 ns per token.
///
/// Time going backwards is harmless: every state change leaves `TAT > now`, so an earlier `now` only sees a larger
/// debt (fewer tokens, never more), and all arithmetic is 128-bit, saturating where it leaves the state.
struct GCRA: Sendable {
    let policy: RateLimitPolicy
    private let model: Model

    private enum Model: Sendable {
        case exact(Exact)
        case warm(WarmUp)
    }

    init(policy: RateLimitPolicy) {
        self.policy = policy
        if policy.warmup != nil {
            model = .warm(WarmUp(policy: policy))
        } else {
            model = .exact(Exact(policy: policy))
        }
    }

    /// `now` in the model's time units (exact: units of `1 ÷ count′` ns; warm-up: ns clamped to ±2⁶¹), to convert
    /// once for many states.
    func instant(_ now: Duration) -> Int128 {
        switch model {
        case .exact(let exact): Int128(widening: now.wholeNanoseconds) * exact.unitsPerNanosecond
        case .warm: Int128(widening: min(max(now.wholeNanoseconds, -(1 << 61)), 1 << 61))
        }
    }

    /// A full bucket at `now` (and, with warm-up, a cold one, as Guava and Sentinel start).
    func start(at now: Int128) -> WordPair {
        switch model {
        case .exact: Exact.encode(now)
        case .warm(let warm): WarmUp.encode(tat: now, stored: warm.maxStored)
        }
    }

    /// The decision for one request, and the new state (`nil` when the request was refused: nothing changes).
    func acquire(_ state: WordPair, at now: Int128) -> (next: WordPair?, decision: RateLimitDecision) {
        switch model {
        case .exact(let exact): exact.acquire(state, now: now)
        case .warm(let warm): warm.acquire(state, now: now)
        }
    }

    /// Whole tokens available at `now` (with warm-up: requests that would pass back to back at the current
    /// per-token cost).
    func available(_ state: WordPair, at now: Int128) -> Int {
        switch model {
        case .exact(let exact): exact.available(state, now: now)
        case .warm(let warm): warm.available(state, now: now)
        }
    }

    /// True when the state behaves exactly as `start(at: now)`: the bucket is full (and, with warm-up, fully cold).
    func isIdle(_ state: WordPair, at now: Int128) -> Bool {
        switch model {
        case .exact: Exact.decode(state) <= now
        case .warm(let warm): warm.isIdle(state, now: now)
        }
    }

    /// The TAT, in the model's units: of two states, the smaller is the closer to full.
    func theoreticalArrival(_ state: WordPair) -> Int128 {
        switch model {
        case .exact: Exact.decode(state)
        case .warm: WarmUp.decode(state).tat
        }
    }
}

// Conversions between words and `Int128` through the stdlib's transparent word accessors (`_low`, `_high`,
// `_lowWord`, `init(_truncatingBits:)`): the generic `BinaryInteger` conversions run unspecialised in debug
// builds, where they made up most of the cost of a call.
// (`WordPair` is 128 bits only where `UInt` is 64 bits, which the bucket's state assumes.)
extension Int128 {
    fileprivate init(widening value: Int64) {
        self.init(_low: UInt64(bitPattern: value), _high: value &>> 63)
    }

    fileprivate init(words low: UInt, _ high: UInt) {
        self.init(_low: UInt64(_truncatingBits: low), _high: Int64(_truncatingBits: high))
    }

    fileprivate var lowWord: UInt { _low._lowWord }
    fileprivate var highWord: UInt { _high._lowWord }

    /// As an `Int`, for values known to fit.
    fileprivate var narrowed: Int { Int(bitPattern: _low._lowWord) }
}

/// Rounds up, for non-negative numerators and positive denominators.
private func divideRoundingUp(_ numerator: Int128, _ denominator: Int128) -> Int128 {
    (numerator + denominator - 1) / denominator
}

/// A non-negative count of nanoseconds as a `Duration`, saturating at `Int64.max` ns. (Built from components:
/// the generic `Duration.nanoseconds(_:)` also runs unspecialised in debug builds.)
private func saturatingNanoseconds(_ nanoseconds: Int128) -> Duration {
    let clamped = nanoseconds >= Int128(widening: .max) ? Int64.max : max(nanoseconds, 0).narrowedInt64
    let (seconds, remainder) = clamped.quotientAndRemainder(dividingBy: 1_000_000_000)
    return Duration(secondsComponent: seconds, attosecondsComponent: remainder * 1_000_000_000)
}

extension Int128 {
    fileprivate var narrowedInt64: Int64 { Int64(bitPattern: _low) }
}

private func greatestCommonDivisor(_ a: Int128, _ b: Int128) -> Int128 {
    var (a, b) = (a, b)
    while b != 0 { (a, b) = (b, a % b) }
    return a
}

// MARK: - Exact (no warm-up)

private struct Exact: Sendable {
    /// `count′`: units per nanosecond.
    let unitsPerNanosecond: Int128
    /// `T = period′` units.
    let interval: Int128
    /// `burst × T` units.
    let capacity: Int128
    /// The policy's pace in units.
    let pace: Int128?

    init(policy: RateLimitPolicy) {
        let period = Int128(policy.period.wholeNanoseconds)
        let count = Int128(policy.count)
        let divisor = greatestCommonDivisor(period, count)
        unitsPerNanosecond = count / divisor
        interval = period / divisor
        capacity = Int128(policy.burst) * interval
        pace = policy.pace.map { Int128($0.wholeNanoseconds) * (count / divisor) }
    }

    static func encode(_ tat: Int128) -> WordPair {
        WordPair(first: tat.lowWord, second: tat.highWord)
    }

    static func decode(_ state: WordPair) -> Int128 {
        Int128(words: state.first, state.second)
    }

    /// Units to a duration, rounded up to whole nanoseconds.
    func duration(_ units: Int128) -> Duration {
        saturatingNanoseconds(unitsPerNanosecond == 1 ? units : divideRoundingUp(max(units, 0), unitsPerNanosecond))
    }

    func acquire(_ state: WordPair, now: Int128) -> (next: WordPair?, decision: RateLimitDecision) {
        let base = max(Exact.decode(state), now)
        let debt = base - now
        let newDebt = debt + interval
        if newDebt <= capacity {
            let remaining = ((capacity - newDebt) / interval).narrowed
            return (Exact.encode(base + interval), .allowed(remaining: remaining, reset: duration(newDebt)))
        }
        let wait = newDebt - capacity
        if let pace, wait <= pace {
            return (Exact.encode(base + interval), .delayed(duration(wait), remaining: 0, reset: duration(newDebt)))
        }
        return (nil, .limited(retryAfter: duration(wait), reset: duration(debt)))
    }

    func available(_ state: WordPair, now: Int128) -> Int {
        let debt = max(Exact.decode(state) - now, 0)
        return debt >= capacity ? 0 : ((capacity - debt) / interval).narrowed
    }
}

// MARK: - Warm-up

/// Guava's `SmoothWarmingUp` geometry with cold factor 3, in nanoseconds. `stored` is Guava's stored permits
/// measured in time at the stable rate (`stored permits × T`): it grows by the idle time during which the bucket
/// is full, up to `maxStored = warmup`, and shrinks by `T` per token taken. A token taken at `stored = S` costs the
/// integral of the interval function over `[S − T, S]` divided by `T`: `T` at or below `threshold = warmup ÷ 2`,
/// rising linearly to `3T` at `maxStored`. So a cold bucket runs at a third of the rate and the slope is crossed in
/// exactly `warmup` of sustained traffic (the area of the trapezoid), as in Guava.
private struct WarmUp: Sendable {
    let interval: Int128
    let capacity: Int128
    let pace: Int128?
    let maxStored: Int128
    let threshold: Int128
    /// `maxStored − threshold`, at least 1.
    let slopeSpan: Int128

    init(policy: RateLimitPolicy) {
        let warmup = Int128(policy.warmup!.wholeNanoseconds)
        interval = divideRoundingUp(Int128(policy.period.wholeNanoseconds), Int128(policy.count))
        capacity = Int128(policy.burst) * interval
        pace = policy.pace.map { Int128($0.wholeNanoseconds) }
        maxStored = warmup
        threshold = warmup / 2
        slopeSpan = warmup - warmup / 2
    }

    /// Both fit 64 bits: the TAT stays within `±2⁶¹ + horizon`, the coldness within `0...warmup`.
    static func encode(tat: Int128, stored: Int128) -> WordPair {
        WordPair(first: tat.lowWord, second: stored.lowWord)
    }

    static func decode(_ state: WordPair) -> (tat: Int128, stored: Int128) {
        (Int128(widening: Int64(_truncatingBits: state.first)), Int128(widening: Int64(_truncatingBits: state.second)))
    }

    /// The idle time since the TAT (the bucket full) turns into coldness; the TAT moves up to `now`.
    private func sync(_ state: WordPair, now: Int128) -> (base: Int128, stored: Int128) {
        let (tat, stored) = WarmUp.decode(state)
        guard tat < now else { return (tat, stored) }
        return (now, min(stored + now - tat, maxStored))
    }

    /// The cost of the next token with `stored` coldness, and the coldness after taking it.
    private func cost(stored: Int128) -> (cost: Int128, storedAfter: Int128) {
        let after = max(stored - interval, 0)
        let above = max(stored - threshold, 0)
        let aboveAfter = max(after - threshold, 0)
        let extra = divideRoundingUp(above * above - aboveAfter * aboveAfter, slopeSpan)
        return (interval + extra, after)
    }

    /// How many requests pass back to back with this debt, at a constant per-token cost.
    private func passing(debt: Int128, cost: Int128) -> Int {
        let room = capacity - interval - debt
        return room < 0 ? 0 : (room / cost).narrowed + 1
    }

    func acquire(_ state: WordPair, now: Int128) -> (next: WordPair?, decision: RateLimitDecision) {
        let (base, stored) = sync(state, now: now)
        let debt = base - now
        let wait = debt + interval - capacity
        if wait > 0, pace.map({ wait > $0 }) ?? true {
            return (nil, .limited(retryAfter: saturatingNanoseconds(wait), reset: saturatingNanoseconds(debt)))
        }
        let (cost, storedAfter) = cost(stored: stored)
        let next = WarmUp.encode(tat: base + cost, stored: storedAfter)
        let newDebt = debt + cost
        if wait > 0 {
            return (next, .delayed(saturatingNanoseconds(wait), remaining: 0, reset: saturatingNanoseconds(newDebt)))
        }
        let remaining = passing(debt: newDebt, cost: self.cost(stored: storedAfter).cost)
        return (next, .allowed(remaining: remaining, reset: saturatingNanoseconds(newDebt)))
    }

    func available(_ state: WordPair, now: Int128) -> Int {
        let (base, stored) = sync(state, now: now)
        return passing(debt: base - now, cost: cost(stored: stored).cost)
    }

    func isIdle(_ state: WordPair, now: Int128) -> Bool {
        let (tat, stored) = WarmUp.decode(state)
        return tat <= now && stored + now - tat >= maxStored
    }
}
