internal import Synchronization

/// Gateway-wide load shedding by priority: Sentinel's system rule with its BBR check (`SystemRuleManager.checkBbr`),
/// structured as Kratos's BBR limiter (`ratelimit/bbr`), shared by every event loop.
///
/// The rule:
/// - **Hard cap**: with `maxInflight`, a request is refused when `maxInflight` requests are already in flight,
///   whatever its priority.
/// - **Estimated capacity** (BBR's bandwidth-delay product): completions are counted in `buckets` buckets over
///   `window`. Over the complete buckets of the last `window` (the bucket in progress is left out, as Kratos does),
///   `maxQPS` is the largest bucket's completions per second, and `minRT` the lowest bucket *mean* latency among
///   buckets of at least `minBucketSamples`, raised to `minRTFloor`. The capacity is `maxQPS × minRT`: the requests
///   in flight when the best throughput seen meets the best latency seen. No such bucket yet (cold start, or a quiet
///   gateway): no estimate, and the adaptive check admits everything.
/// - **Starting to shed**: when the last complete bucket's mean latency is at least `overloadLatencyRatio` × that
///   `minRT` (before the floor), and in-flight ≥ `optionalShare` × capacity, shedding starts for `recovery`. It then
///   ends at `start + recovery` and may start again at once if both conditions still hold.
/// - **While shedding**: `optional` requests are refused at in-flight ≥ `optionalShare` × capacity, `normal` at
///   in-flight ≥ `normalShare` × capacity, `core` never (only by the hard cap). As Sentinel, nothing is refused while
///   at most one request is in flight. The capacity keeps following the statistics.
///
/// Where it differs, and why:
/// - The latency gate replaces Sentinel's system-load gate and Kratos's CPU gate, which we do not have. It is not
///   optional: by Little's law a healthy gateway carries `throughput × mean latency` requests, which is the
///   estimate itself, so in-flight crosses `optionalShare × capacity` (and `capacity`) all the time without any
///   overload, and an ungated check sheds healthy traffic; worse, the throughput it then lets through is what the
///   next estimate is made of, so the estimate spirals down. Inflated latency is the sign that the excess in flight
///   is queueing rather than more work being done.
/// - `minRT` is the best bucket *mean* (Kratos), not Sentinel's single fastest request, which sits below the mean
///   latency of any real traffic and makes the estimate smaller than the in-flight count of a healthy system.
/// - Once shedding has started it stays on for `recovery` (Kratos's one-second cool-down), whatever the latency:
///   shedding is what brings the latency back down, and dropping it then would only let the queue build again.
public final class SystemProtection: Sendable {
    /// What the protection sees at one instant, for metrics and the admin page.
    public struct Snapshot: Sendable, Equatable {
        public let inflight: Int
        /// The largest bucket's completions per second over the window; nil with no complete bucket.
        public let maxQPS: Double?
        /// The window's best bucket mean latency (before the floor); nil with no bucket of `minBucketSamples`.
        public let minRT: Duration?
        /// `maxQPS × max(minRT, minRTFloor)`; nil when either is unknown (the adaptive check then admits all).
        public let estimatedCapacity: Double?
        /// Whether the last complete bucket's mean latency shows overload (`overloadLatencyRatio` × `minRT`).
        public let latencyInflated: Bool
        /// When the current shedding period ends; nil when none is on (the next `admit` may still start one: `shed`
        /// says what it would refuse).
        public let sheddingUntil: Duration?
        /// The priorities a request would be refused for now, lowest first.
        public let shed: [RoutePriority]
    }

    public let policy: SystemProtectionPolicy
    private let bucketNanoseconds: Int64
    private let state: Mutex<State>

    public init(policy: SystemProtectionPolicy = .init()) {
        self.policy = policy
        self.bucketNanoseconds = (policy.window / policy.buckets).wholeNanoseconds
        self.state = Mutex(State(slots: policy.buckets + 1))
    }

    /// Admits a request of `priority` (counting it in flight) or refuses it.
    public func admit(priority: RoutePriority, now: Duration) -> Bool {
        state.withLock { state in
            let verdict = decide(priority, state: state, now: now)
            if let start = verdict.startsShedding { state.sheddingUntil = start + policy.recovery }
            guard verdict.admits else { return false }
            state.inflight += 1
            return true
        }
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
        }
    }

    /// Releases an admitted request that produced no sample (failed before an answer, cancelled).
    public func abandon(now: Duration) {
        state.withLock { $0.release() }
    }

    public func snapshot(now: Duration) -> Snapshot {
        state.withLock { state in
            let stats = statistics(state, now: now)
            let shed = RoutePriority.allCases.filter { !decide($0, state: state, now: now).admits }
            return Snapshot(
                inflight: state.inflight,
                maxQPS: stats.maxCount.map { Double($0) * 1e9 / Double(bucketNanoseconds) },
                minRT: stats.minMean.map { .nanoseconds($0) },
                estimatedCapacity: stats.capacity,
                latencyInflated: stats.latencyInflated,
                sheddingUntil: state.sheddingUntil.flatMap { $0 > now ? $0 : nil },
                shed: shed
            )
        }
    }

    private struct Verdict {
        var admits: Bool
        /// Set when this decision starts a shedding period (at this instant).
        var startsShedding: Duration?
    }

    private func decide(_ priority: RoutePriority, state: State, now: Duration) -> Verdict {
        if let cap = policy.maxInflight, state.inflight >= cap { return Verdict(admits: false) }
        guard policy.adaptive, state.inflight > 1 else { return Verdict(admits: true) }
        let stats = statistics(state, now: now)
        guard let capacity = stats.capacity else { return Verdict(admits: true) }
        let inflight = Double(state.inflight)
        var start: Duration?
        if state.sheddingUntil.map({ now >= $0 }) ?? true {
            guard stats.latencyInflated && inflight >= policy.optionalShare * capacity else {
                return Verdict(admits: true)
            }
            start = now
        }
        let share: Double
        switch priority {
        case .optional: share = policy.optionalShare
        case .normal: share = policy.normalShare
        case .core: return Verdict(admits: true, startsShedding: start)
        }
        return Verdict(admits: inflight < share * capacity, startsShedding: start)
    }

    private struct Statistics {
        var maxCount: Int?
        var minMean: Int64?
        var capacity: Double?
        var latencyInflated = false
    }

    private func statistics(_ state: State, now: Duration) -> Statistics {
        let current = bucketIndex(now)
        var stats = Statistics()
        var lastMean: Int64?
        for bucket in state.buckets where bucket.index < current && bucket.index >= current - Int64(policy.buckets) {
            stats.maxCount = max(stats.maxCount ?? 0, bucket.count)
            guard bucket.count >= policy.minBucketSamples else { continue }
            let mean = bucket.latencySum / Int64(bucket.count)
            stats.minMean = min(stats.minMean ?? .max, mean)
            if bucket.index == current - 1 { lastMean = mean }
        }
        guard let maxCount = stats.maxCount, let minMean = stats.minMean else { return stats }
        let minRT = max(minMean, policy.minRTFloor.wholeNanoseconds)
        // Multiply before dividing: 50 completions × 10 ms ÷ 100 ms is exactly 5.
        stats.capacity = Double(maxCount) * Double(minRT) / Double(bucketNanoseconds)
        if let lastMean { stats.latencyInflated = Double(lastMean) >= policy.overloadLatencyRatio * Double(minMean) }
        return stats
    }

    /// The bucket `now` falls in: ⌊now ÷ bucket length⌋ (floored for instants before the origin too).
    private func bucketIndex(_ now: Duration) -> Int64 {
        let nanoseconds = now.wholeNanoseconds
        let (quotient, remainder) = nanoseconds.quotientAndRemainder(dividingBy: bucketNanoseconds)
        return remainder < 0 ? quotient - 1 : quotient
    }

    private struct Bucket: Sendable {
        var index: Int64 = .min
        var count = 0
        var latencySum: Int64 = 0
    }

    private struct State: Sendable {
        var inflight = 0
        var sheddingUntil: Duration?
        /// One slot more than the window's buckets: the bucket in progress plus a full window of complete ones.
        var buckets: [Bucket]

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
