internal import Synchronization

/// Gateway-wide load shedding by priority: Sentinel's system rule with its BBR check (`SystemRuleManager.checkBbr`),
/// structured as Kratos's BBR limiter (`ratelimit/bbr`), shared by every event loop.
///
/// The rule:
/// - **Hard cap**: with `maxInflight`, a request is refused when `maxInflight` requests are already in flight,
///   whatever its priority.
/// - **Estimated capacity** (BBR's bandwidth-delay product): completions are counted in buckets of
///   `window ÷ buckets`; only complete buckets count (Kratos leaves the one in progress out too). `maxQPS` is the
///   largest bucket's completions per second over the last `window`; `minRT` is the lowest bucket *mean* latency over
///   the last `minRTWindow`, among buckets of at least `minBucketSamples`. The capacity is
///   `maxQPS × max(minRT, minRTFloor)`: what is in flight when the best throughput seen meets the best latency seen.
///   Without both (cold start, a quiet gateway) there is no estimate and the adaptive check admits everything.
/// - **Shedding starts** when the last complete bucket's mean latency is at least `overloadLatencyRatio` × `minRT` and
///   in-flight ≥ `optionalShare` × capacity. It stays on for `recovery` from its start and from every later
///   decision that still finds the latency inflated or the demand too high: the requests offered (admitted or
///   refused) over the last `window` at least the best throughput seen since shedding started.
/// - **While shedding**, `optional` requests are refused at in-flight ≥ `optionalShare` × capacity, `normal` ones at
///   in-flight ≥ `normalShare` × capacity, `core` ones never (only by the hard cap): the lowest priority goes first.
///   The capacity in force is the highest estimated since shedding started.
/// - **Probing**: in the first bucket of every window (bucket number a multiple of `buckets`) the thresholds are
///   1.25 × higher, BBR's ProbeBW gain: the extra requests let through show whether there is more capacity than the
///   throughput allowed so far.
/// - As Sentinel, the adaptive check refuses nothing while at most one request is in flight.
///
/// Where it differs, and why:
/// - The latency gate replaces Sentinel's system-load gate and Kratos's CPU gate, which we do not have. It is not
///   optional: by Little's law a healthy gateway carries `throughput × mean latency` requests, which is the estimate
///   itself, so in-flight crosses `optionalShare × capacity` (and often `capacity`) all the time without any
///   overload, and an ungated check sheds healthy traffic. Inflated latency is the sign that the excess in flight is
///   queueing rather than work being done. (An `overloadLatencyRatio` of 1 or less all but removes the gate.)
/// - `minRT` is a bucket *mean* (Kratos), not Sentinel's single fastest request, which sits below the mean latency of
///   any real traffic and makes the estimate smaller than the in-flight count of a healthy gateway. It looks back
///   `minRTWindow` (10 s, as Kratos and BBR's RTprop filter), not Sentinel's one second: during an overload every
///   recent bucket is slow, and a one-second minimum would soon take the congestion for normal, raise the estimate to
///   match and stop shedding.
/// - Shedding does not end when the latency recovers, since shedding is what brings it back (Kratos's cool-down
///   rests on the CPU, which stays high under overload whether requests are shed or not). It ends `recovery` after the
///   last sign of overload: inflated latency, or demand at least the best throughput. Refusals are no such sign: by
///   Little's law the in-flight count of any traffic is about its own estimate, so it crosses 80% of it at any load.
///   The capacity may rise but not fall while shedding: the throughput measured then is what was let through, and an
///   estimate taken from it would spiral down (most visibly when only `optional` traffic is in excess and is held at
///   `optionalShare` of the capacity).
///
/// In the tests' simulation (a backend of capacity 20 × 10 ms, 40% optional, 40% normal, 20% core traffic), at 70% of
/// capacity nothing is shed; at 3 × capacity optional traffic is shed at 99.7%, normal at 66%, core not at all, the
/// backend stays at 100% of its throughput and p99 at 22.9 ms, against 4.7 s (and 18% of the throughput) unprotected.
///
/// Known limits: an overload present from start-up, or lasting longer than `minRTWindow` without shedding bringing
/// the latency down (say, `core` traffic alone exceeds the capacity), has no uncongested latency to refer to; the
/// estimate then holds the congestion it sees instead of draining it. `maxInflight` is the backstop. A change of
/// traffic mix toward slower routes raises the mean latency like congestion does and may start shedding until the
/// old minimum leaves the `minRTWindow`.
public final class SystemProtection: Sendable {
    /// What the protection sees at one instant, for metrics and the admin page.
    public struct Snapshot: Sendable, Equatable {
        public let inflight: Int
        /// The largest bucket's completions per second over the window; nil with no complete bucket in it.
        public let maxQPS: Double?
        /// The lowest bucket mean latency over `minRTWindow` (before the floor); nil with no bucket of
        /// `minBucketSamples`.
        public let minRT: Duration?
        /// The capacity in force (`maxQPS × max(minRT, minRTFloor)`, or higher while shedding); nil without an
        /// estimate, when the adaptive check admits everything.
        public let estimatedCapacity: Double?
        /// Whether the last complete bucket's mean latency shows overload (`overloadLatencyRatio` × `minRT`).
        public let latencyInflated: Bool
        /// When shedding ends unless a sign of overload extends it; nil when not shedding.
        public let sheddingUntil: Duration?
        /// The priorities a request would be refused for now, lowest first (the next `admit` may start shedding:
        /// this says what it would refuse).
        public let shed: [RoutePriority]
    }

    public let policy: SystemProtectionPolicy
    private let bucketNanoseconds: Int64
    /// How many complete buckets the minimum RT looks back over.
    private let minRTBuckets: Int64
    private let state: Mutex<State>

    /// The thresholds' multiplier in the first bucket of every window (BBR's ProbeBW pacing gain).
    static let probeGain = 1.25

    public init(policy: SystemProtectionPolicy = .init()) {
        self.policy = policy
        let bucket = (policy.window / policy.buckets).wholeNanoseconds
        self.bucketNanoseconds = bucket
        self.minRTBuckets = max(Int64(policy.buckets), policy.minRTWindow.wholeNanoseconds / bucket)
        self.state = Mutex(State(slots: Int(minRTBuckets) + 1))
    }

    /// Admits a request of `priority` (counting it in flight) or refuses it.
    public func admit(priority: RoutePriority, now: Duration) -> Bool {
        let index = bucketIndex(now)
        return state.withLock { state in
            state.buckets[state.slot(for: index)].offered += 1
            if let cached = state.cached, index < cached.current { state.cached = nil }
            let verdict = decide(priority, state: &state, now: now)
            if let stats = verdict.shedding { keepShedding(&state, stats: stats, capacity: verdict.capacity, now: now) }
            guard verdict.admits else { return false }
            state.inflight += 1
            return true
        }
    }

    /// Starts or extends the shedding episode: it lasts `recovery` from its start and from every later decision that
    /// finds the latency inflated or the demand over the last window at least the best throughput of the episode.
    private func keepShedding(_ state: inout State, stats: Statistics, capacity: Double, now: Duration) {
        let maxCount = stats.maxCount ?? 0
        guard var episode = state.episode, now < episode.until else {
            state.episode = Episode(capacity: capacity, maxCount: maxCount, until: now + policy.recovery)
            return
        }
        episode.capacity = capacity
        episode.maxCount = max(episode.maxCount, maxCount)
        if stats.latencyInflated || stats.offered >= episode.maxCount * policy.buckets {
            episode.until = now + policy.recovery
        }
        state.episode = episode
    }

    /// Releases an admitted request that completed in `rtt` (a latency sample and a completion).
    public func complete(rtt: Duration, now: Duration) {
        let index = bucketIndex(now)
        let sample = max(rtt.wholeNanoseconds, 0)
        state.withLock { state in
            state.release()
            let slot = state.slot(for: index)
            state.buckets[slot].count += 1
            state.buckets[slot].latencySum &+= sample
            // A late caller (another event loop's slightly older `now`) may add to a bucket already summarized.
            if let cached = state.cached, index < cached.current { state.cached = nil }
        }
    }

    /// Releases an admitted request that produced no sample (failed before an answer, cancelled).
    public func abandon(now: Duration) {
        state.withLock { $0.release() }
    }

    public func snapshot(now: Duration) -> Snapshot {
        state.withLock { state in
            let stats = statistics(&state, now: now)
            let shed = RoutePriority.allCases.filter { !decide($0, state: &state, now: now).admits }
            let shedding = state.episode.flatMap { $0.until > now ? $0 : nil }
            return Snapshot(
                inflight: state.inflight,
                maxQPS: stats.maxCount.map { Double($0) * 1e9 / Double(bucketNanoseconds) },
                minRT: stats.minMean.map { .nanoseconds($0) },
                estimatedCapacity: stats.capacity.map { max($0, shedding?.capacity ?? 0) },
                latencyInflated: stats.latencyInflated,
                sheddingUntil: shedding?.until,
                shed: shed
            )
        }
    }

    private struct Verdict {
        var admits: Bool
        /// Set when shedding is on for this decision (already, or starting with it), at `capacity`.
        var shedding: Statistics?
        var capacity: Double = 0
    }

    private func decide(_ priority: RoutePriority, state: inout State, now: Duration) -> Verdict {
        if let cap = policy.maxInflight, state.inflight >= cap { return Verdict(admits: false) }
        guard policy.adaptive, state.inflight > 1 else { return Verdict(admits: true) }
        let stats = statistics(&state, now: now)
        guard var capacity = stats.capacity else { return Verdict(admits: true) }
        let inflight = Double(state.inflight)
        let gain = stats.current % Int64(policy.buckets) == 0 ? Self.probeGain : 1
        if let episode = state.episode, now < episode.until {
            capacity = max(capacity, episode.capacity)
        } else if !stats.latencyInflated || inflight < policy.optionalShare * gain * capacity {
            return Verdict(admits: true)
        }
        let share: Double
        switch priority {
        case .optional: share = policy.optionalShare
        case .normal: share = policy.normalShare
        case .core: share = .infinity
        }
        return Verdict(admits: inflight < share * gain * capacity, shedding: stats, capacity: capacity)
    }

    /// The statistics depend on complete buckets only, so they are computed once per bucket and cached.
    private func statistics(_ state: inout State, now: Duration) -> Statistics {
        let current = bucketIndex(now)
        if let cached = state.cached, cached.current == current { return cached }
        var stats = Statistics(current: current)
        var lastMean: Int64?
        for bucket in state.buckets where bucket.index < current && bucket.index >= current - minRTBuckets {
            if bucket.index >= current - Int64(policy.buckets) {
                stats.maxCount = max(stats.maxCount ?? 0, bucket.count)
                stats.offered += bucket.offered
            }
            guard bucket.count >= policy.minBucketSamples else { continue }
            let mean = bucket.latencySum / Int64(bucket.count)
            stats.minMean = min(stats.minMean ?? .max, mean)
            if bucket.index == current - 1 { lastMean = mean }
        }
        if let maxCount = stats.maxCount, let minMean = stats.minMean {
            let minRT = max(minMean, policy.minRTFloor.wholeNanoseconds)
            // Multiply before dividing: 50 completions × 10 ms ÷ 100 ms is exactly 5.
            stats.capacity = Double(maxCount) * Double(minRT) / Double(bucketNanoseconds)
            if let lastMean {
                stats.latencyInflated = Double(lastMean) >= policy.overloadLatencyRatio * Double(minMean)
            }
        }
        state.cached = stats
        return stats
    }

    /// The bucket `now` falls in: ⌊now ÷ bucket length⌋ (floored for instants before the origin too).
    private func bucketIndex(_ now: Duration) -> Int64 {
        let (quotient, remainder) = now.wholeNanoseconds.quotientAndRemainder(dividingBy: bucketNanoseconds)
        return remainder < 0 ? quotient - 1 : quotient
    }

    private struct Statistics: Sendable {
        /// The bucket in progress when these were computed.
        var current: Int64
        var maxCount: Int?
        /// Requests offered (admitted or refused) over the window.
        var offered = 0
        var minMean: Int64?
        var capacity: Double?
        var latencyInflated = false
    }

    private struct Bucket: Sendable {
        var index: Int64 = .min
        var count = 0
        var latencySum: Int64 = 0
        var offered = 0
    }

    private struct Episode: Sendable {
        /// The highest capacity estimated since shedding started.
        var capacity: Double
        /// The most completions in one bucket since shedding started (the best throughput, per bucket).
        var maxCount: Int
        var until: Duration
    }

    private struct State: Sendable {
        var inflight = 0
        /// The shedding episode, if one is on or was (it is over at `until`).
        var episode: Episode?
        /// The bucket in progress plus `minRTWindow` of complete ones.
        var buckets: [Bucket]
        var cached: Statistics?

        init(slots: Int) { buckets = Array(repeating: Bucket(), count: slots) }

        mutating func release() {
            precondition(inflight > 0, "a request was released twice or never admitted")
            inflight -= 1
        }

        /// The slot for bucket `index`, recycled if it still holds an older bucket.
        mutating func slot(for index: Int64) -> Int {
            let count = Int64(buckets.count)
            let slot = Int(((index % count) + count) % count)
            if buckets[slot].index != index { buckets[slot] = Bucket(index: index) }
            return slot
        }
    }
}
