/// One upstream's circuit breaker: resilience4j's `CircuitBreakerStateMachine`, as a value type driven by injected
/// time. `SharedCircuitBreaker` puts one behind a lock for all event loops.
///
/// Rules, and where they follow resilience4j:
/// - Closed: every call is let through; its outcome goes into a sliding window (the last `n` calls, or the calls
///   of the last `duration` in one-second buckets) as failed or not and slow or not (slower than
///   `slowCallThreshold`; slow failures count in both). After each outcome, once the window holds at least
///   `minCalls` calls (`min(minCalls, n)` for a count window), the breaker opens if the failure rate reaches
///   `failureRatePercent` or the slow-call rate reaches `slowCallRatePercent` (both `≥`, failure rate checked
///   first). As in resilience4j, the window is only judged when an outcome arrives, not as time passes.
/// - Open: calls are rejected with `retryAfter` = the rest of `openDuration`. Once it has passed, the next
///   `tryAcquire` or `tick` moves to half-open (resilience4j without the automatic-transition timer).
/// - Half-open: exactly `halfOpenCalls` probes are handed out; further calls are rejected. When all of them have
///   reported, their failure and slow-call rates decide: either threshold reached → open again for
///   `openDuration`, else → closed with an empty window. `minCalls` plays no part (the probes are the sample).
/// - Half-open never sticks, where resilience4j (#935) and Sentinel (#1638) could: a probe that has not reported
///   `halfOpenTimeout` after its admission counts as failed (found lazily by `tryAcquire`, `record`, `release`
///   and `tick`; its late outcome is ignored), and `release` — a call that ended without an outcome that should
///   count, such as a client that went away — gives its probe slot back without counting anything.
/// - Every transition starts a new generation; only outcomes of permits issued in the current one count.
///   Calls admitted while closed that end during half-open are thus ignored, as resilience4j does, and neither
///   decide nor use up a probe slot. Unlike resilience4j, outcomes of calls admitted before an open period that
///   end after the breaker has closed again are ignored too (they describe the upstream as it was).
/// - Time going backwards is harmless: every method uses the latest instant seen so far when given an earlier
///   one.
///
/// Each mutating method makes at most one transition and returns it, except `tryAcquire`, which does not report
/// the open → half-open (or half-open → open on a timed-out probe) transition it may make; use
/// `tryAcquireReporting` or call `tick` first to see it.
public struct CircuitBreaker: Sendable {
    public let policy: CircuitBreakerPolicy

    private var current: CircuitState = .closed
    private var generation: UInt64 = 0
    private var nextPermitID: UInt64 = 0
    private var latest: Duration?
    private var window: CircuitWindow
    /// When open: the counts that tripped the breaker (for the snapshot).
    private var tripCounts = OutcomeCounts()
    private var openUntil = Duration.zero
    private var probes: [Probe] = []
    private var probeResults = OutcomeCounts()
    private var probeTimeouts = 0

    private struct Probe: Sendable {
        let id: UInt64
        let admittedAt: Duration
    }

    public init(policy: CircuitBreakerPolicy = CircuitBreakerPolicy()) {
        self.policy = policy
        self.window = CircuitWindow(policy.window, minCalls: policy.minCalls)
    }

    /// The state at `now`, counting the transitions `tick(now:)` would make (the breaker is not changed).
    public func state(now: Duration) -> CircuitState {
        var copy = self
        _ = copy.tick(now: now)
        return copy.current
    }

    /// The snapshot as of the latest instant the breaker has seen.
    public var snapshot: CircuitSnapshot { makeSnapshot(now: latest ?? .zero) }

    /// The snapshot at `now`, counting the transitions `tick(now:)` would make (the breaker is not changed).
    public func snapshot(now: Duration) -> CircuitSnapshot {
        var copy = self
        _ = copy.tick(now: now)
        return copy.makeSnapshot(now: copy.latest ?? now)
    }

    /// Lets a call through or refuses it.
    public mutating func tryAcquire(now: Duration) -> CircuitAdmission {
        tryAcquireReporting(now: now).admission
    }

    /// `tryAcquire`, also returning the time-based transition made on the way.
    public mutating func tryAcquireReporting(
        now: Duration
    ) -> (admission: CircuitAdmission, transition: CircuitTransition?) {
        let now = advance(to: now)
        let transition = applyTime(now: now)
        switch current {
        case .closed:
            return (.permitted(issue(now: now, probe: false)), transition)
        case .open:
            return (.rejected(retryAfter: openUntil - now), transition)
        case .halfOpen:
            if probes.count + probeResults.calls < policy.halfOpenCalls {
                let permit = issue(now: now, probe: true)
                probes.append(Probe(id: permit.id, admittedAt: now))
                return (.permitted(permit), transition)
            }
            // All slots taken, so a probe is in flight (were none, the reported ones would have decided).
            let oldest = probes.lazy.map(\.admittedAt).min() ?? now
            return (.rejected(retryAfter: oldest + policy.halfOpenTimeout - now), transition)
        }
    }

    /// Records the outcome of a permitted call that took `duration`; returns the transition it caused, if any.
    @discardableResult
    public mutating func record(
        _ permit: CircuitPermit, failed: Bool, duration: Duration, now: Duration
    ) -> CircuitTransition? {
        let now = advance(to: now)
        let timeTransition = applyTime(now: now)
        guard permit.generation == generation else { return timeTransition }
        // Same generation, so `applyTime` made no transition.
        let slow = policy.isSlow(duration)
        switch current {
        case .closed:
            window.record(failed: failed, slow: slow, now: now)
            let totals = window.totals(now: now)
            guard totals.calls >= window.minimumCalls, let reason = tripReason(totals) else { return nil }
            tripCounts = totals
            return move(to: .open, reason: reason, now: now)
        case .halfOpen:
            guard let index = probes.firstIndex(where: { $0.id == permit.id }) else { return nil }
            probes.remove(at: index)
            probeResults.add(failed: failed, slow: slow)
            return decideHalfOpen(now: now)
        case .open:
            return nil
        }
    }

    /// The call ended without an outcome that should count (the client went away, the request was cancelled):
    /// nothing is counted, and a half-open probe's slot is given back.
    @discardableResult
    public mutating func release(_ permit: CircuitPermit, now: Duration) -> CircuitTransition? {
        let now = advance(to: now)
        let transition = applyTime(now: now)
        if permit.generation == generation, current == .halfOpen,
            let index = probes.firstIndex(where: { $0.id == permit.id })
        {
            probes.remove(at: index)
        }
        return transition
    }

    /// Applies the time-based transitions due at `now`: open → half-open once `openDuration` has passed; probes
    /// older than `halfOpenTimeout` count as failed, which may decide half-open.
    @discardableResult
    public mutating func tick(now: Duration) -> CircuitTransition? {
        applyTime(now: advance(to: now))
    }

    // MARK: - Internals

    private mutating func advance(to now: Duration) -> Duration {
        if let latest, now < latest { return latest }
        latest = now
        return now
    }

    private mutating func applyTime(now: Duration) -> CircuitTransition? {
        switch current {
        case .closed:
            return nil
        case .open:
            guard now >= openUntil else { return nil }
            return move(to: .halfOpen, reason: "open for \(ResilienceText.duration(policy.openDuration))", now: now)
        case .halfOpen:
            let before = probes.count
            probes.removeAll { now - $0.admittedAt >= policy.halfOpenTimeout }
            let expired = before - probes.count
            guard expired > 0 else { return nil }
            for _ in 0..<expired { probeResults.add(failed: true, slow: false) }
            probeTimeouts += expired
            return decideHalfOpen(now: now)
        }
    }

    private mutating func issue(now: Duration, probe: Bool) -> CircuitPermit {
        nextPermitID &+= 1
        return CircuitPermit(generation: generation, id: nextPermitID, admittedAt: now, isProbe: probe)
    }

    /// Closes or reopens once every probe slot has an outcome.
    private mutating func decideHalfOpen(now: Duration) -> CircuitTransition? {
        guard probeResults.calls >= policy.halfOpenCalls else { return nil }
        let timedOut: String
        switch probeTimeouts {
        case 0: timedOut = ""
        case 1: timedOut = " (1 probe timed out)"
        default: timedOut = " (\(probeTimeouts) probes timed out)"
        }
        if let reason = tripReason(probeResults) {
            tripCounts = probeResults
            return move(to: .open, reason: "half-open " + reason + timedOut, now: now)
        }
        var reason = "\(probeResults.calls) half-open probes: failure rate "
        reason += "\(ResilienceText.percent(probeResults.percent(probeResults.failures)))%"
        reason += " < \(ResilienceText.threshold(policy.failureRatePercent))%"
        if policy.slowCallThreshold != nil {
            reason += ", slow call rate \(ResilienceText.percent(probeResults.percent(probeResults.slow)))%"
            reason += " < \(ResilienceText.threshold(policy.slowCallRatePercent))%"
        }
        return move(to: .closed, reason: reason + timedOut, now: now)
    }

    /// Why `counts` trips the breaker, or nil if it does not.
    private func tripReason(_ counts: OutcomeCounts) -> String? {
        if counts.reaches(counts.failures, percent: policy.failureRatePercent) {
            return "failure rate \(ResilienceText.percent(counts.percent(counts.failures)))%"
                + " ≥ \(ResilienceText.threshold(policy.failureRatePercent))%"
        }
        if policy.slowCallThreshold != nil, counts.reaches(counts.slow, percent: policy.slowCallRatePercent) {
            return "slow call rate \(ResilienceText.percent(counts.percent(counts.slow)))%"
                + " ≥ \(ResilienceText.threshold(policy.slowCallRatePercent))%"
        }
        return nil
    }

    private mutating func move(to state: CircuitState, reason: String, now: Duration) -> CircuitTransition {
        let transition = CircuitTransition(from: current, to: state, reason: reason)
        current = state
        generation &+= 1
        probes = []
        probeResults = OutcomeCounts()
        probeTimeouts = 0
        switch state {
        case .closed:
            window.reset()
            tripCounts = OutcomeCounts()
        case .open:
            window.reset()
            openUntil = now + policy.openDuration
        case .halfOpen:
            break
        }
        return transition
    }

    private func makeSnapshot(now: Duration) -> CircuitSnapshot {
        let counts: OutcomeCounts
        switch current {
        case .closed: counts = window.totals(now: now)
        case .open: counts = tripCounts
        case .halfOpen: counts = probeResults
        }
        return CircuitSnapshot(
            state: current,
            calls: counts.calls,
            failedCalls: counts.failures,
            slowCalls: counts.slow,
            failureRatePercent: counts.percent(counts.failures),
            slowCallRatePercent: counts.percent(counts.slow),
            openUntil: current == .open ? openUntil : nil,
            probesInFlight: current == .halfOpen ? probes.count : 0
        )
    }
}
