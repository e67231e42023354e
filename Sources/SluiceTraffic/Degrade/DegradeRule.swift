/// The state of a degrade rule.
public enum DegradeState: String, Sendable {
    /// Requests pass and are counted (Sentinel's `CLOSED`).
    case normal
    /// Requests are refused until `recovery` has passed (Sentinel's `OPEN`).
    case degraded
    /// One probe is out; other requests are refused until it reports (Sentinel's `HALF_OPEN`).
    case probing
}

/// What `DegradeRule.admit` answers.
public enum DegradeAdmission: Sendable, Equatable {
    case pass
    /// The half-open trial request: let it through and report it with `probe: true`.
    case probe
    /// Refused; another request (a probe) may pass in `retryAfter`.
    case degraded(retryAfter: Duration)
}

/// A state change of a degrade rule, for the gateway's log and counters. (`normal`/`degraded` → `probing` is not
/// reported: `admit` answering `.probe` is that transition.)
public struct DegradeTransition: Sendable, Equatable {
    public let from: DegradeState
    public let to: DegradeState
    /// Why, in words: "error ratio 60.0% > 50%", "probe succeeded", "probe slow (700ms > 500ms)".
    public let reason: String

    public init(from: DegradeState, to: DegradeState, reason: String) {
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// A degrade rule at a glance. The counts are the window's when normal, and those that triggered the rule
/// otherwise.
public struct DegradeSnapshot: Sendable, Equatable {
    public let state: DegradeState
    public let requests: Int
    public let errors: Int
    public let slowRequests: Int
    /// When degraded: when a probe may pass. When probing: when another probe may pass if this one is lost.
    public let retryAt: Duration?
}

/// Sentinel's degrade rule (`AbstractCircuitBreaker` with `ResponseTimeCircuitBreaker` /
/// `ExceptionCircuitBreaker`) for one route, as a value type driven by injected time. `SharedDegradeRule` puts one
/// behind a lock.
///
/// Rules, and where they follow Sentinel:
/// - Normal: every request passes; its outcome goes into a time window of `bucketCount` buckets (Sentinel's
///   `LeapArray`; Sentinel's degrade rules default to one bucket). After each outcome, once the window holds at
///   least `minRequests` requests, the trigger is checked: slow ratio or error ratio *more than* the threshold
///   (Sentinel compares with `>`, and for the slow ratio also trips at exactly 100% so that 100% is not dead; the
///   same is done here for the error ratio, where Sentinel's 100% can never trip), or *more than* `errorCount`
///   errors. Tripping → degraded for `recovery`.
/// - Degraded: requests are refused with `retryAfter` = the rest of `recovery`. After it, the next `admit`
///   answers `.probe` and the rule is probing.
/// - Probing: other requests are refused. The probe's report decides: not failed and (for a slow-ratio rule) not
///   slow → normal with an empty window; otherwise degraded again for `recovery`. Deliberately unlike Sentinel,
///   where a slow-ratio rule ignores errors, a failed probe always counts as failed; and only a report flagged
///   `probe: true` decides (Sentinel lets whichever request ends first decide).
/// - A lost probe (never reported, Sentinel #1638) does not stick: `recovery` after it was admitted, `admit`
///   answers `.probe` again.
/// - Reports that are not probes are ignored unless normal; probe reports are ignored when not probing.
/// - Time going backwards is harmless: every method uses the latest instant seen so far when given an earlier one.
public struct DegradeRule: Sendable {
    /// Buckets in the statistics window.
    public static let bucketCount = 10

    public let policy: DegradePolicy

    private var current: DegradeState = .normal
    private var buckets: OutcomeBuckets
    private var tripCounts = OutcomeCounts()
    /// Degraded: when a probe may pass. Probing: when another probe may pass.
    private var retryAt = Duration.zero
    private var latest: Duration?

    public init(policy: DegradePolicy) {
        self.policy = policy
        self.buckets = OutcomeBuckets(window: policy.window, buckets: Self.bucketCount)
    }

    /// The current state. (Degraded stays degraded after `recovery` until `admit` hands out the probe, as in
    /// Sentinel, so `now` only matters in that it may not go backwards.)
    public func state(now: Duration) -> DegradeState { current }

    /// The snapshot as of the latest instant the rule has seen.
    public var snapshot: DegradeSnapshot { snapshot(now: latest ?? .zero) }

    public func snapshot(now: Duration) -> DegradeSnapshot {
        let now = max(now, latest ?? now)
        let counts = current == .normal ? buckets.totals(now: now) : tripCounts
        return DegradeSnapshot(
            state: current,
            requests: counts.calls,
            errors: counts.failures,
            slowRequests: counts.slow,
            retryAt: current == .normal ? nil : retryAt
        )
    }

    public mutating func admit(now: Duration) -> DegradeAdmission {
        let now = advance(to: now)
        switch current {
        case .normal:
            return .pass
        case .degraded, .probing:
            guard now >= retryAt else { return .degraded(retryAfter: retryAt - now) }
            current = .probing
            retryAt = now + policy.recovery
            return .probe
        }
    }

    /// Records a request that took `latency`; `probe` says whether `admit` answered `.probe` for it.
    @discardableResult
    public mutating func record(latency: Duration, failed: Bool, probe: Bool, now: Duration) -> DegradeTransition? {
        let now = advance(to: now)
        let slow = policy.isSlow(latency)
        switch current {
        case .normal:
            guard !probe else { return nil }
            buckets.record(failed: failed, slow: slow, now: now)
            let totals = buckets.totals(now: now)
            guard totals.calls >= policy.minRequests, let reason = tripReason(totals) else { return nil }
            tripCounts = totals
            return degrade(reason: reason, now: now)
        case .degraded:
            return nil
        case .probing:
            guard probe else { return nil }
            if failed {
                tripCounts = OutcomeCounts(calls: 1, failures: 1, slow: slow ? 1 : 0)
                return degrade(reason: "probe failed", now: now)
            }
            if slow, case .slowRatio(let slowerThan, _) = policy.trigger {
                tripCounts = OutcomeCounts(calls: 1, failures: 0, slow: 1)
                let reason = "probe slow (\(ResilienceText.duration(latency)) > \(ResilienceText.duration(slowerThan)))"
                return degrade(reason: reason, now: now)
            }
            current = .normal
            buckets.reset()
            tripCounts = OutcomeCounts()
            return DegradeTransition(from: .probing, to: .normal, reason: "probe succeeded")
        }
    }

    private mutating func advance(to now: Duration) -> Duration {
        if let latest, now < latest { return latest }
        latest = now
        return now
    }

    private mutating func degrade(reason: String, now: Duration) -> DegradeTransition {
        let transition = DegradeTransition(from: current, to: .degraded, reason: reason)
        current = .degraded
        retryAt = now + policy.recovery
        return transition
    }

    private func tripReason(_ counts: OutcomeCounts) -> String? {
        switch policy.trigger {
        case .slowRatio(let slowerThan, let percent):
            guard Self.trips(counts, counts.slow, percent) else { return nil }
            return "slow ratio \(ResilienceText.percent(counts.percent(counts.slow)))% > "
                + "\(ResilienceText.threshold(percent))% (slower than \(ResilienceText.duration(slowerThan)))"
        case .errorRatio(let percent):
            guard Self.trips(counts, counts.failures, percent) else { return nil }
            return "error ratio \(ResilienceText.percent(counts.percent(counts.failures)))% > "
                + "\(ResilienceText.threshold(percent))%"
        case .errorCount(let limit):
            guard counts.failures > limit else { return nil }
            return "error count \(counts.failures) > \(limit) in \(ResilienceText.duration(policy.window))"
        }
    }

    /// More than `percent`, or everything at 100%.
    private static func trips(_ counts: OutcomeCounts, _ part: Int, _ percent: Double) -> Bool {
        counts.exceeds(part, percent: percent) || (percent >= 100 && part == counts.calls)
    }
}
