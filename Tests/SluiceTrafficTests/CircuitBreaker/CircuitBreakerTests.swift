import Testing

@testable import SluiceTraffic

/// resilience4j's state machine with injected time: the closed windows, open, half-open and its non-sticking rules.
@Suite struct CircuitBreakerTests {
    private static let t0 = Duration.seconds(1_000)

    private func policy(
        window: CircuitBreakerPolicy.Window = .calls(10), minCalls: Int = 4, failureRate: Double = 50,
        slow: Duration? = nil, slowRate: Double = 100, open: Duration = .seconds(30), halfOpen: Int = 3,
        halfOpenTimeout: Duration = .seconds(10)
    ) -> CircuitBreakerPolicy {
        CircuitBreakerPolicy(
            window: window, minCalls: minCalls, failureRatePercent: failureRate, slowCallThreshold: slow,
            slowCallRatePercent: slowRate, openDuration: open, halfOpenCalls: halfOpen, halfOpenTimeout: halfOpenTimeout
        )
    }

    private func permit(_ breaker: inout CircuitBreaker, at now: Duration) throws -> CircuitPermit {
        try #require(breaker.tryAcquire(now: now).permit)
    }

    /// One call admitted and reported at `now`.
    @discardableResult
    private func call(
        _ breaker: inout CircuitBreaker, failed: Bool, duration: Duration = .milliseconds(10), at now: Duration
    ) throws -> CircuitTransition? {
        let permit = try permit(&breaker, at: now)
        return breaker.record(permit, failed: failed, duration: duration, now: now)
    }

    /// A breaker opened at `t0` by `minCalls` failures.
    private func opened(_ policy: CircuitBreakerPolicy) throws -> CircuitBreaker {
        var breaker = CircuitBreaker(policy: policy)
        for _ in 0..<policy.minCalls { try call(&breaker, failed: true, at: Self.t0) }
        #expect(breaker.state(now: Self.t0) == .open)
        return breaker
    }

    @Test func defaults() {
        let policy = CircuitBreakerPolicy()
        #expect(policy.window == .calls(100))
        #expect(policy.minCalls == 20)
        #expect(policy.failureRatePercent == 50)
        #expect(policy.slowCallThreshold == nil)
        #expect(policy.slowCallRatePercent == 100)
        #expect(policy.openDuration == .seconds(30))
        #expect(policy.halfOpenCalls == 10)
        #expect(policy.halfOpenTimeout == .seconds(30))
        #expect(!policy.isSlow(.seconds(3_600)))
        #expect(CircuitState.halfOpen.rawValue == "half_open")
    }

    @Test func minCallsNotReached() throws {
        var breaker = CircuitBreaker(policy: policy(minCalls: 5))
        for _ in 0..<4 { #expect(try call(&breaker, failed: true, at: Self.t0) == nil) }
        #expect(breaker.state(now: Self.t0) == .closed)
        #expect(breaker.snapshot.calls == 4)
        #expect(breaker.snapshot.failureRatePercent == 100)
        let transition = try call(&breaker, failed: true, at: Self.t0)
        #expect(transition == CircuitTransition(from: .closed, to: .open, reason: "failure rate 100.0% ≥ 50%"))
        #expect(breaker.state(now: Self.t0) == .open)
    }

    @Test func countWindowMinimumIsCappedAtTheWindowSize() throws {
        // min_calls 20 with a 3-call window: judged from 3 calls, as resilience4j does.
        var breaker = CircuitBreaker(policy: policy(window: .calls(3), minCalls: 20))
        #expect(try call(&breaker, failed: true, at: Self.t0) == nil)
        #expect(try call(&breaker, failed: false, at: Self.t0) == nil)
        #expect(try call(&breaker, failed: true, at: Self.t0)?.reason == "failure rate 66.7% ≥ 50%")
    }

    @Test func belowTheThresholdStaysClosed() throws {
        var breaker = CircuitBreaker(policy: policy(minCalls: 4, failureRate: 50))
        for failed in [true, false, false, false, false, true, false] {
            #expect(try call(&breaker, failed: failed, at: Self.t0) == nil)
        }
        #expect(breaker.snapshot.calls == 7)
        #expect(breaker.snapshot.failedCalls == 2)
        #expect(breaker.state(now: Self.t0) == .closed)
    }

    @Test func countWindowSlides() throws {
        var breaker = CircuitBreaker(policy: policy(window: .calls(4), minCalls: 4, failureRate: 50))
        // F S S S → 25%; S pushes the F out → 0%; F → 25%; F → 50% over the last four (3 of 7 overall: 43%).
        for failed in [true, false, false, false] { #expect(try call(&breaker, failed: failed, at: Self.t0) == nil) }
        #expect(breaker.snapshot.failedCalls == 1)
        #expect(try call(&breaker, failed: false, at: Self.t0) == nil)
        #expect(breaker.snapshot.calls == 4)
        #expect(breaker.snapshot.failedCalls == 0)
        #expect(try call(&breaker, failed: true, at: Self.t0) == nil)
        let transition = try call(&breaker, failed: true, at: Self.t0)
        #expect(transition?.reason == "failure rate 50.0% ≥ 50%")
        #expect(breaker.snapshot.calls == 4)
        #expect(breaker.snapshot.failedCalls == 2)
        #expect(breaker.snapshot.openUntil == Self.t0 + .seconds(30))
    }

    @Test func timeWindowExpires() throws {
        // A 10s window in 1s buckets aligned on the origin: at 1009.9s the window is buckets 1000...1009.
        let timed = policy(window: .time(.seconds(10)), minCalls: 4)
        var breaker = CircuitBreaker(policy: timed)
        for _ in 0..<3 { try call(&breaker, failed: true, at: Self.t0 + .milliseconds(500)) }
        #expect(breaker.snapshot(now: Self.t0 + .milliseconds(9_900)).calls == 3)
        #expect(breaker.snapshot(now: Self.t0 + .seconds(10)).calls == 0)

        var inTime = breaker
        #expect(try call(&inTime, failed: true, at: Self.t0 + .milliseconds(9_900))?.to == .open)

        var late = breaker
        #expect(try call(&late, failed: true, at: Self.t0 + .seconds(10)) == nil)
        #expect(late.snapshot.calls == 1)
        #expect(late.state(now: Self.t0 + .seconds(10)) == .closed)
    }

    @Test func timeWindowUsesAbsoluteMinimumCalls() throws {
        var breaker = CircuitBreaker(policy: policy(window: .time(.seconds(2)), minCalls: 5))
        for second in 0..<4 { try call(&breaker, failed: true, at: Self.t0 + .seconds(second)) }
        // Only the last two seconds count: never 5 calls in the window.
        #expect(breaker.snapshot.calls == 2)
        #expect(breaker.state(now: Self.t0 + .seconds(3)) == .closed)
        for _ in 0..<2 { #expect(try call(&breaker, failed: true, at: Self.t0 + .seconds(3)) == nil) }
        #expect(try call(&breaker, failed: true, at: Self.t0 + .seconds(3))?.to == .open)
    }

    @Test func slowCallsOpen() throws {
        var breaker = CircuitBreaker(
            policy: policy(window: .calls(5), minCalls: 5, failureRate: 100, slow: .seconds(1), slowRate: 80))
        // Exactly the threshold is not slow; strictly longer is.
        #expect(try call(&breaker, failed: false, duration: .seconds(1), at: Self.t0) == nil)
        for _ in 0..<3 {
            #expect(try call(&breaker, failed: false, duration: .milliseconds(1_001), at: Self.t0) == nil)
        }
        #expect(breaker.snapshot.slowCalls == 3)
        // A slow failure counts as slow too (and 1 failure of 5 is far from 100%).
        let transition = try call(&breaker, failed: true, duration: .seconds(2), at: Self.t0)
        #expect(transition == CircuitTransition(from: .closed, to: .open, reason: "slow call rate 80.0% ≥ 80%"))
        #expect(breaker.snapshot.slowCallRatePercent == 80)
        #expect(breaker.snapshot.failureRatePercent == 20)
    }

    @Test func failureRateIsCheckedBeforeSlowRate() throws {
        var breaker = CircuitBreaker(
            policy: policy(window: .calls(2), minCalls: 2, failureRate: 50, slow: .seconds(1), slowRate: 50))
        try call(&breaker, failed: true, duration: .seconds(5), at: Self.t0)
        #expect(try call(&breaker, failed: false, at: Self.t0)?.reason == "failure rate 50.0% ≥ 50%")
    }

    @Test func openRejectsWithRetryAfterThenGoesHalfOpen() throws {
        var breaker = try opened(policy())
        #expect(breaker.tryAcquire(now: Self.t0) == .rejected(retryAfter: .seconds(30)))
        #expect(breaker.tryAcquire(now: Self.t0 + .seconds(10)) == .rejected(retryAfter: .seconds(20)))
        #expect(breaker.tick(now: Self.t0 + .milliseconds(29_999)) == nil)
        #expect(breaker.state(now: Self.t0 + .milliseconds(29_999)) == .open)
        // state(now:) shows the transition that is due without making it.
        #expect(breaker.state(now: Self.t0 + .seconds(30)) == .halfOpen)
        #expect(breaker.snapshot.state == .open)

        let (admission, transition) = breaker.tryAcquireReporting(now: Self.t0 + .seconds(30))
        #expect(transition == CircuitTransition(from: .open, to: .halfOpen, reason: "open for 30s"))
        #expect(admission.permit?.isProbe == true)
        #expect(breaker.snapshot.state == .halfOpen)
        #expect(breaker.snapshot.probesInFlight == 1)
    }

    @Test func tickMovesOpenToHalfOpen() throws {
        var breaker = try opened(policy())
        #expect(breaker.tick(now: Self.t0 + .seconds(31))?.to == .halfOpen)
        #expect(breaker.tick(now: Self.t0 + .seconds(31)) == nil)
        #expect(breaker.snapshot.state == .halfOpen)
        #expect(breaker.snapshot.openUntil == nil)
    }

    @Test func halfOpenHandsOutExactlyItsPermits() throws {
        var breaker = try opened(policy(halfOpen: 3, halfOpenTimeout: .seconds(10)))
        let start = Self.t0 + .seconds(30)
        for second in 0..<3 { _ = try permit(&breaker, at: start + .seconds(second)) }
        // Rejected until the oldest probe times out.
        #expect(breaker.tryAcquire(now: start + .seconds(2)) == .rejected(retryAfter: .seconds(8)))
        #expect(breaker.tryAcquire(now: start + .seconds(9)) == .rejected(retryAfter: .seconds(1)))
        #expect(breaker.snapshot.probesInFlight == 3)
        #expect(breaker.snapshot.state == .halfOpen)
    }

    @Test func halfOpenSuccessCloses() throws {
        var breaker = try opened(policy(halfOpen: 3))
        let start = Self.t0 + .seconds(30)
        let probes = try (0..<3).map { _ in try permit(&breaker, at: start) }
        #expect(breaker.record(probes[0], failed: true, duration: .milliseconds(5), now: start) == nil)
        #expect(breaker.record(probes[1], failed: false, duration: .milliseconds(5), now: start) == nil)
        #expect(breaker.snapshot.calls == 2)
        #expect(breaker.snapshot.probesInFlight == 1)
        let transition = breaker.record(probes[2], failed: false, duration: .milliseconds(5), now: start)
        #expect(
            transition
                == CircuitTransition(
                    from: .halfOpen, to: .closed, reason: "3 half-open probes: failure rate 33.3% < 50%"))
        // A fresh window: the failures that opened it are gone.
        #expect(breaker.snapshot.calls == 0)
        let next = try permit(&breaker, at: start)
        #expect(!next.isProbe)
        // Reporting a probe twice changes nothing.
        #expect(breaker.record(probes[2], failed: true, duration: .zero, now: start) == nil)
        #expect(breaker.snapshot.calls == 0)
    }

    @Test func halfOpenFailureReopens() throws {
        var breaker = try opened(policy(halfOpen: 3))
        let start = Self.t0 + .seconds(30)
        let probes = try (0..<3).map { _ in try permit(&breaker, at: start) }
        #expect(breaker.record(probes[0], failed: true, duration: .zero, now: start) == nil)
        #expect(breaker.record(probes[1], failed: false, duration: .zero, now: start) == nil)
        let later = start + .seconds(2)
        let transition = breaker.record(probes[2], failed: true, duration: .zero, now: later)
        #expect(
            transition == CircuitTransition(from: .halfOpen, to: .open, reason: "half-open failure rate 66.7% ≥ 50%"))
        #expect(breaker.tryAcquire(now: later) == .rejected(retryAfter: .seconds(30)))
        #expect(breaker.snapshot.openUntil == later + .seconds(30))
        #expect(breaker.snapshot.failedCalls == 2)
    }

    @Test func halfOpenSlowProbesReopen() throws {
        var breaker = try opened(policy(failureRate: 100, slow: .seconds(1), slowRate: 50, halfOpen: 2))
        let start = Self.t0 + .seconds(30)
        let probes = try (0..<2).map { _ in try permit(&breaker, at: start) }
        #expect(breaker.record(probes[0], failed: false, duration: .seconds(2), now: start) == nil)
        let transition = breaker.record(probes[1], failed: false, duration: .milliseconds(10), now: start)
        #expect(transition?.reason == "half-open slow call rate 50.0% ≥ 50%")
    }

    @Test func halfOpenTimeoutCountsAsFailure() throws {
        var breaker = try opened(policy(halfOpen: 2, halfOpenTimeout: .seconds(10)))
        let start = Self.t0 + .seconds(30)
        let lost = try permit(&breaker, at: start)
        let good = try permit(&breaker, at: start + .seconds(1))
        #expect(breaker.record(good, failed: false, duration: .zero, now: start + .seconds(2)) == nil)
        // Not yet: the lost probe has 10s.
        #expect(breaker.tick(now: start + .milliseconds(9_999)) == nil)
        #expect(breaker.state(now: start + .seconds(10)) == .open)
        let transition = breaker.tick(now: start + .seconds(10))
        #expect(
            transition
                == CircuitTransition(
                    from: .halfOpen, to: .open, reason: "half-open failure rate 50.0% ≥ 50% (1 probe timed out)"))
        // Its late outcome is ignored.
        #expect(breaker.record(lost, failed: false, duration: .seconds(11), now: start + .seconds(11)) == nil)
        #expect(breaker.tryAcquire(now: start + .seconds(11)) == .rejected(retryAfter: .seconds(29)))
    }

    @Test func halfOpenTimeoutIsFoundByTryAcquireAndRecord() throws {
        var breaker = try opened(policy(halfOpen: 1, halfOpenTimeout: .seconds(10)))
        let start = Self.t0 + .seconds(30)
        let lost = try permit(&breaker, at: start)
        // No tick: tryAcquire notices the timed-out probe, reopens and rejects for a full open period.
        #expect(breaker.tryAcquire(now: start + .seconds(15)) == .rejected(retryAfter: .seconds(30)))
        #expect(breaker.record(lost, failed: false, duration: .seconds(15), now: start + .seconds(15)) == nil)

        var other = try opened(policy(halfOpen: 1, halfOpenTimeout: .seconds(10)))
        let probe = try permit(&other, at: start)
        // Reported exactly at the deadline: already timed out, the success does not close it.
        let transition = other.record(probe, failed: false, duration: .seconds(10), now: start + .seconds(10))
        #expect(transition?.to == .open)
        #expect(transition?.reason == "half-open failure rate 100.0% ≥ 50% (1 probe timed out)")
    }

    @Test func timedOutProbesAndSuccessesCanStillClose() throws {
        var breaker = try opened(policy(halfOpen: 3, halfOpenTimeout: .seconds(10)))
        let start = Self.t0 + .seconds(30)
        _ = try permit(&breaker, at: start)
        let probes = try (0..<2).map { _ in try permit(&breaker, at: start) }
        for probe in probes { #expect(breaker.record(probe, failed: false, duration: .zero, now: start) == nil) }
        let transition = breaker.tick(now: start + .seconds(10))
        #expect(transition?.to == .closed)
        #expect(transition?.reason == "3 half-open probes: failure rate 33.3% < 50% (1 probe timed out)")
    }

    @Test func releaseFreesAHalfOpenSlotAndCountsNothing() throws {
        var breaker = try opened(policy(halfOpen: 2))
        let start = Self.t0 + .seconds(30)
        let first = try permit(&breaker, at: start)
        let gone = try permit(&breaker, at: start)
        #expect(breaker.tryAcquire(now: start).permit == nil)
        #expect(breaker.release(gone, now: start) == nil)
        #expect(breaker.snapshot.probesInFlight == 1)
        #expect(breaker.snapshot.calls == 0)
        let third = try permit(&breaker, at: start)
        #expect(third.isProbe)
        // Releasing twice, or reporting after the release, does not free or count anything more.
        #expect(breaker.release(gone, now: start) == nil)
        #expect(breaker.record(gone, failed: true, duration: .zero, now: start) == nil)
        #expect(breaker.tryAcquire(now: start).permit == nil)
        #expect(breaker.record(first, failed: false, duration: .zero, now: start) == nil)
        #expect(
            breaker.record(third, failed: false, duration: .zero, now: start)?.reason
                == "2 half-open probes: failure rate 0.0% < 50%")
    }

    @Test func releaseWhileClosedCountsNothing() throws {
        var breaker = CircuitBreaker(policy: policy(minCalls: 1))
        let permit = try permit(&breaker, at: Self.t0)
        #expect(breaker.release(permit, now: Self.t0) == nil)
        #expect(breaker.snapshot.calls == 0)
        #expect(breaker.state(now: Self.t0) == .closed)
    }

    @Test func staleGenerationResultsAreIgnored() throws {
        var breaker = CircuitBreaker(policy: policy(minCalls: 4, halfOpen: 1))
        let closedEra = try (0..<2).map { _ in try permit(&breaker, at: Self.t0) }
        for _ in 0..<4 { try call(&breaker, failed: true, at: Self.t0) }
        #expect(breaker.state(now: Self.t0) == .open)
        // While open: ignored.
        #expect(breaker.record(closedEra[0], failed: false, duration: .zero, now: Self.t0 + .seconds(1)) == nil)
        #expect(breaker.snapshot.calls == 4)

        let start = Self.t0 + .seconds(30)
        let probe = try permit(&breaker, at: start)
        // While half-open: a closed-era success neither closes the breaker nor uses the probe's slot.
        #expect(breaker.record(closedEra[1], failed: false, duration: .seconds(30), now: start) == nil)
        #expect(breaker.release(closedEra[0], now: start) == nil)
        #expect(breaker.snapshot.state == .halfOpen)
        #expect(breaker.snapshot.calls == 0)
        #expect(breaker.snapshot.probesInFlight == 1)
        #expect(breaker.tryAcquire(now: start).permit == nil)
        #expect(breaker.record(probe, failed: false, duration: .zero, now: start)?.to == .closed)

        // Closed again: an old-era failure is not counted in the fresh window.
        #expect(breaker.record(closedEra[1], failed: true, duration: .zero, now: start) == nil)
        #expect(breaker.snapshot.calls == 0)
    }

    @Test func timeGoingBackwardsIsHarmless() throws {
        var breaker = try opened(policy(halfOpen: 1, halfOpenTimeout: .seconds(10)))
        // Earlier instants are read as the latest one seen (t0): no retryAfter beyond the open period.
        #expect(breaker.tryAcquire(now: Self.t0 - .seconds(100)) == .rejected(retryAfter: .seconds(30)))
        #expect(breaker.tick(now: .zero) == nil)
        #expect(breaker.state(now: .zero) == .open)

        let start = Self.t0 + .seconds(30)
        let probe = try permit(&breaker, at: start)
        // Going back does not time the probe out nor give a negative retryAfter.
        #expect(breaker.tryAcquire(now: start - .seconds(20)) == .rejected(retryAfter: .seconds(10)))
        #expect(breaker.tick(now: start - .seconds(20)) == nil)
        #expect(breaker.record(probe, failed: false, duration: .zero, now: start - .seconds(5))?.to == .closed)

        // A time window fed an earlier instant counts it in the latest bucket.
        var timed = CircuitBreaker(policy: policy(window: .time(.seconds(10)), minCalls: 2))
        try call(&timed, failed: false, at: Self.t0)
        try call(&timed, failed: false, at: Self.t0 - .seconds(60))
        #expect(timed.snapshot.calls == 2)
        #expect(timed.snapshot(now: Self.t0 - .seconds(60)).calls == 2)
    }

    @Test func negativeInstantsWork() throws {
        // The origin is arbitrary: instants may be negative and buckets still align.
        var breaker = CircuitBreaker(policy: policy(window: .time(.seconds(2)), minCalls: 3))
        try call(&breaker, failed: true, at: .milliseconds(-2_500))
        try call(&breaker, failed: true, at: .milliseconds(-1_500))
        #expect(breaker.snapshot.calls == 2)
        #expect(breaker.snapshot(now: .milliseconds(-500)).calls == 1)
        #expect(try call(&breaker, failed: true, at: .milliseconds(-1_200))?.to == .open)
    }

    @Test func sharedBreakerCountsEveryConcurrentOutcome() async throws {
        let shared = SharedCircuitBreaker(policy: policy(window: .calls(1_000), minCalls: 1_000, failureRate: 100))
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for index in 0..<250 {
                        let now = Self.t0 + .milliseconds(task * 1_000 + index)
                        guard let permit = shared.tryAcquire(now: now).permit else { continue }
                        shared.record(permit, failed: index % 2 == 0, duration: .zero, now: now)
                    }
                }
            }
        }
        let snapshot = shared.snapshot
        #expect(snapshot.calls == 1_000)
        #expect(snapshot.failedCalls == 500)
        #expect(snapshot.state == .closed)
    }

    @Test func sharedBreakerRunsTheStateMachine() throws {
        let shared = SharedCircuitBreaker(policy: policy(minCalls: 2, halfOpen: 1))
        for _ in 0..<2 {
            let permit = try #require(shared.tryAcquire(now: Self.t0).permit)
            shared.record(permit, failed: true, duration: .zero, now: Self.t0)
        }
        #expect(shared.state(now: Self.t0) == .open)
        #expect(shared.tryAcquire(now: Self.t0 + .seconds(5)) == .rejected(retryAfter: .seconds(25)))
        #expect(shared.snapshot(now: Self.t0 + .seconds(30)).state == .halfOpen)
        let (admission, transition) = shared.tryAcquireReporting(now: Self.t0 + .seconds(30))
        #expect(transition?.to == .halfOpen)
        let probe = try #require(admission.permit)
        #expect(shared.release(probe, now: Self.t0 + .seconds(30)) == nil)
        let again = try #require(shared.tryAcquire(now: Self.t0 + .seconds(30)).permit)
        #expect(shared.tick(now: Self.t0 + .seconds(40))?.to == .open)
        #expect(shared.record(again, failed: false, duration: .zero, now: Self.t0 + .seconds(41)) == nil)
    }
}
