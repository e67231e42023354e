internal import Synchronization

/// An adaptive concurrency limit for one route or upstream: Envoy's gradient controller
/// (`source/extensions/filters/http/adaptive_concurrency/controller/gradient_controller.cc`), shared by every event
/// loop. Requests above the limit are refused at once (`tryAcquire` returns nil; the gateway answers 503).
///
/// The rule, and where it follows or leaves Envoy:
/// - **minRTT**, the uncongested latency, is measured with the limit pinned to `minLimit`: the limiter admits only
///   while fewer than `minLimit` requests are in flight, and the `percentile` of the first `minRTTSamples`
///   successful requests admitted that way is the minRTT. Requests admitted before the measurement started are not
///   samples (they ran at the old concurrency). The limit is then restored to its value before the measurement
///   (`initialLimit` at start-up, where Envoy restores `minLimit` and climbs). A measurement runs at start-up, every
///   `minRTTInterval` plus up to `minRTTJitter` of it, and when the limit has collapsed for five windows in a row:
///   at `minLimit` (Envoy's trigger: the minRTT is probably stale), or — our addition — at or below half the highest
///   limit since the last measurement. An upstream that got slower for good (a deploy) inflates every sample by the
///   same factor at any concurrency, and the limit then settles well above `minLimit` but far below capacity
///   (with a sample 2× the minRTT, at about 4); Envoy would starve it until the next periodic measurement.
/// - **Sample RTT**: the `percentile` of the successful requests completed in a window of at least
///   `sampleInterval` and `minWindowSamples` samples (Envoy uses a timer and any sample count; windows here close on
///   the completion that finds them due, since no clock is read).
/// - **New limit**, at each window close: `gradient = clamp(rttTolerance × minRTT ÷ sampleRTT, 0.5, 2)`,
///   `computed = limit × gradient + √(limit × gradient)`, clamped to `[minLimit, maxLimit]`, then
///   `limit += smoothing × (computed − limit)`. The limit is kept as a fraction (as Netflix does) and published
///   rounded down.
/// - **No growth while idle**: a window whose peak in-flight count stayed below half the limit may lower the limit
///   but not raise it (Netflix Gradient2's app-limited check; Envoy grows without bound toward `maxLimit` on an idle
///   upstream, which a burst then overruns).
/// - **Overload drops**: `drop(_:overloaded: true, now:)` multiplies the limit by `dropBackoff` at most once per
///   `sampleInterval` and forbids growth in the current window (Netflix's `onDropped`; Envoy ignores drops); during a
///   minRTT measurement it only frees the slot, as other drops do.
///
/// Why this is stable (the choice over Gradient2): on a backend whose latency is `base × inflight ÷ capacity` past
/// saturation (`LoadLatencyModel`), a window run at limit L > capacity samples `base × L ÷ capacity`, so
/// `limit × gradient` is `rttTolerance × capacity` whatever L was: the computed limit lands on
/// `rttTolerance × capacity + √(rttTolerance × capacity)` in one window from above, and grows by the gradient (up to
/// ×2 per window) from below, where the latency stays at minRTT. There is no integrator to wind up, so it neither
/// drifts up nor oscillates down to `minLimit`; the minRTT is a fixed reference between measurements, where
/// Gradient2's long-term average follows the congestion it should detect (its limit drifts up under sustained load).
/// With the defaults and a capacity of 20, the limit settles at 30 and the latency at 1.5 × the uncongested one; in
/// the tests' simulation (10 ms ± 10%, 80 clients) p99 is 16.5 ms at 100% of the best throughput, against 43.9 ms
/// without the limiter. The price is the periodic measurement: about `minRTTSamples × minRTT ÷ minLimit` spent at
/// `minLimit` (170 ms for a 10 ms upstream, every minute by default), refusing what does not fit.
public final class AdaptiveConcurrencyLimiter: Sendable {
    /// What the limiter knows, for metrics and the admin page.
    public struct Snapshot: Sendable, Equatable {
        /// The concurrency limit in force (`minLimit` while the minRTT is measured).
        public let limit: Int
        public let inflight: Int
        /// The last measured minRTT; nil until the first measurement is done.
        public let minRTT: Duration?
        /// The sample RTT of the last closed window; nil before the first window closes.
        public let sampleRTT: Duration?
        /// True while the limit is pinned to measure the minRTT.
        public let measuringMinRTT: Bool
    }

    public let policy: AdaptiveConcurrencyPolicy
    private let state: Mutex<State>

    /// Starts in a minRTT measurement at `now`. `random` seeds the jitter of the measurement schedule.
    public init(policy: AdaptiveConcurrencyPolicy = .init(), now: Duration, random: inout some RandomNumberGenerator) {
        self.policy = policy
        var state = State(policy: policy, seed: random.next(), now: now)
        state.startMeasurement(restoring: Double(policy.initialLimit))
        self.state = Mutex(state)
    }

    /// Admits one request if fewer requests than the limit are in flight; nil means refuse it now.
    public func tryAcquire(now: Duration) -> AdaptivePermit? {
        state.withLock { state in
            if !state.measuring && now >= state.nextMeasurement {
                state.startMeasurement(restoring: state.estimate)
            }
            guard state.inflight < state.admissionLimit else { return nil }
            state.inflight += 1
            state.windowPeak = max(state.windowPeak, state.inflight)
            return AdaptivePermit(generation: state.generation)
        }
    }

    /// Releases `permit` for a request that succeeded in `rtt` (a latency sample).
    public func complete(_ permit: AdaptivePermit, rtt: Duration, now: Duration) {
        let sample = max(rtt.wholeNanoseconds, 1)
        state.withLock { state in
            state.release()
            if state.measuring {
                guard permit.generation == state.generation else { return }
                state.measurementSamples.append(sample)
                if state.measurementSamples.count >= state.policy.minRTTSamples {
                    state.finishMeasurement(now: now)
                }
                return
            }
            state.addWindowSample(sample)
            state.closeWindowIfDue(now: now)
        }
    }

    /// Releases `permit` for a request that produced no latency sample. `overloaded` says the upstream showed
    /// overload (timeout, 503, refused connection): the limit is then backed off; a cancelled request or an ordinary
    /// failure passes false.
    public func drop(_ permit: AdaptivePermit, overloaded: Bool = false, now: Duration) {
        state.withLock { state in
            state.release()
            guard overloaded && !state.measuring else { return }
            state.windowOverloaded = true
            if let last = state.lastBackoff, now - last < state.policy.sampleInterval { return }
            state.lastBackoff = now
            state.setEstimate(state.estimate * state.policy.dropBackoff)
        }
    }

    /// The concurrency limit in force.
    public var limit: Int { state.withLock { $0.admissionLimit } }

    public var inflight: Int { state.withLock { $0.inflight } }

    public var snapshot: Snapshot {
        state.withLock { state in
            Snapshot(
                limit: state.admissionLimit,
                inflight: state.inflight,
                minRTT: state.minRTT.map { .nanoseconds($0) },
                sampleRTT: state.sampleRTT.map { .nanoseconds($0) },
                measuringMinRTT: state.measuring
            )
        }
    }
}

extension AdaptiveConcurrencyLimiter {
    /// Samples kept per window; past this many, the newest overwrite the oldest so that a window's percentile costs
    /// a bounded sort under the lock.
    static let windowCapacity = 512
    /// Windows in a row with a collapsed limit that trigger a new minRTT measurement (Envoy's constant).
    static let lowWindowsBeforeRemeasure = 5

    /// The nearest-rank `percentile` of `samples` (not empty).
    static func percentile(_ percentile: Double, of samples: [Int64]) -> Int64 {
        let sorted = samples.sorted()
        let rank = Int((percentile * Double(sorted.count)).rounded(.up))
        return sorted[min(max(rank, 1), sorted.count) - 1]
    }

    fileprivate struct State: Sendable {
        let policy: AdaptiveConcurrencyPolicy
        var jitter: SplitMix64Generator
        var inflight = 0
        /// The limit outside measurements, as a fraction.
        var estimate: Double
        var measuring = false
        var generation: UInt64 = 0
        var restoreAfterMeasurement: Double = 0
        var measurementSamples: [Int64] = []
        var nextMeasurement: Duration
        var minRTT: Int64?
        var sampleRTT: Int64?
        var windowStart: Duration
        var windowSamples: [Int64] = []
        var windowSeen = 0
        var windowPeak = 0
        var windowOverloaded = false
        var windowsLow = 0
        var peakSinceMeasurement: Double = 0
        var lastBackoff: Duration?

        init(policy: AdaptiveConcurrencyPolicy, seed: UInt64, now: Duration) {
            self.policy = policy
            self.jitter = SplitMix64Generator(state: seed)
            self.estimate = Double(policy.initialLimit)
            self.nextMeasurement = now
            self.windowStart = now
        }

        var admissionLimit: Int {
            measuring ? policy.minLimit : Int(estimate.rounded(.down))
        }

        mutating func release() {
            precondition(inflight > 0, "a permit was released twice or never acquired")
            inflight -= 1
        }

        mutating func setEstimate(_ value: Double) {
            estimate = min(max(value, Double(policy.minLimit)), Double(policy.maxLimit))
        }

        mutating func startMeasurement(restoring limit: Double) {
            measuring = true
            generation &+= 1
            restoreAfterMeasurement = limit
            measurementSamples.removeAll(keepingCapacity: true)
            windowsLow = 0
        }

        mutating func finishMeasurement(now: Duration) {
            minRTT = AdaptiveConcurrencyLimiter.percentile(policy.percentile, of: measurementSamples)
            measurementSamples.removeAll(keepingCapacity: true)
            measuring = false
            setEstimate(restoreAfterMeasurement)
            peakSinceMeasurement = estimate
            let delay = policy.minRTTInterval * (policy.minRTTJitter * jitter.nextUnit())
            nextMeasurement = now + policy.minRTTInterval + delay
            resetWindow(now: now)
        }

        mutating func addWindowSample(_ sample: Int64) {
            if windowSamples.count < AdaptiveConcurrencyLimiter.windowCapacity {
                windowSamples.append(sample)
            } else {
                windowSamples[windowSeen % AdaptiveConcurrencyLimiter.windowCapacity] = sample
            }
            windowSeen += 1
        }

        mutating func resetWindow(now: Duration) {
            windowStart = now
            windowSamples.removeAll(keepingCapacity: true)
            windowSeen = 0
            windowPeak = inflight
            windowOverloaded = false
        }

        mutating func closeWindowIfDue(now: Duration) {
            guard now - windowStart >= policy.sampleInterval, windowSamples.count >= policy.minWindowSamples,
                let minRTT
            else { return }
            let sample = AdaptiveConcurrencyLimiter.percentile(policy.percentile, of: windowSamples)
            sampleRTT = sample
            let raw = policy.rttTolerance * Double(minRTT) / Double(sample)
            let gradient = min(max(raw, 0.5), 2)
            let scaled = estimate * gradient
            var computed = scaled + scaled.squareRoot()
            let appLimited = windowPeak * 2 < admissionLimit
            if computed > estimate && (appLimited || windowOverloaded) { computed = estimate }
            computed = min(max(computed, Double(policy.minLimit)), Double(policy.maxLimit))
            setEstimate(estimate + policy.smoothing * (computed - estimate))
            resetWindow(now: now)
            peakSinceMeasurement = max(peakSinceMeasurement, estimate)
            if admissionLimit <= policy.minLimit || estimate * 2 <= peakSinceMeasurement {
                windowsLow += 1
                if windowsLow >= AdaptiveConcurrencyLimiter.lowWindowsBeforeRemeasure {
                    startMeasurement(restoring: estimate)
                }
            } else {
                windowsLow = 0
            }
        }
    }
}
