import SluiceTraffic
/// When to probe one server next, and the rule that at most one probe per server is in flight.
///
/// Probe times are jittered (±`jitter` × `interval`, uniformly) so that the probes of many servers, or of many
/// gateways, do not march in lock step after a restart. A probe that outlives the interval is not doubled up: the
/// caller asks `startProbe(now:)` before sending and gets `false` while the previous one is still out; the probe's
/// own timeout (enforced by the caller) is what finally calls `finishProbe(now:)`.
struct HealthCheckSchedule: Sendable, Equatable {
    let interval: Duration
    /// The jitter as a fraction of `interval`, in `0...1`: 0.1 means each gap is within ±10% of `interval`.
    let jitter: Double
    /// When the probe in flight was started, or `nil` when none is.
    private(set) var probeStartedAt: Duration?

    var isProbeInFlight: Bool { probeStartedAt != nil }

    init(interval: Duration, jitter: Double = 0.1) {
        precondition(interval > .zero, "the interval must be positive")
        precondition(jitter >= 0 && jitter <= 1, "jitter is a fraction of the interval, in 0...1")
        self.interval = interval
        self.jitter = jitter
    }

    /// The time of the next probe: `now + interval + offset`, the offset drawn uniformly (to the nanosecond) from
    /// `-span...span` with `span = ⌊interval × jitter⌋`. Both bounds can be drawn.
    func nextProbe(after now: Duration, using rng: inout some RandomNumberGenerator) -> Duration {
        let span = Int64((Double(interval.wholeNanoseconds) * jitter).rounded(.down))
        guard span > 0 else { return now + interval }
        return now + interval + .nanoseconds(Int64.random(in: -span...span, using: &rng))
    }

    /// Marks a probe as sent; `false` (and nothing changes) when one is already in flight.
    mutating func startProbe(now: Duration) -> Bool {
        guard probeStartedAt == nil else { return false }
        probeStartedAt = now
        return true
    }

    /// Marks the probe in flight as done; returns how long it took, or `nil` when none was in flight.
    @discardableResult
    mutating func finishProbe(now: Duration) -> Duration? {
        guard let started = probeStartedAt else { return nil }
        probeStartedAt = nil
        return now - started
    }
}
