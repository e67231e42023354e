import Testing

@testable import SluiceTraffic

/// Sentinel's degrade rules with injected time: the three triggers, the window, the probe and the lost probe.
@Suite struct DegradeRuleTests {
    private static let t0 = Duration.seconds(1_000)

    private func rule(
        _ trigger: DegradePolicy.Trigger, window: Duration = .seconds(10), minRequests: Int = 4,
        recovery: Duration = .seconds(30)
    ) -> DegradeRule {
        DegradeRule(
            policy: DegradePolicy(trigger: trigger, window: window, minRequests: minRequests, recovery: recovery))
    }

    /// Admits one request at `now` (it must pass) and records it.
    @discardableResult
    private func request(
        _ rule: inout DegradeRule, failed: Bool = false, latency: Duration = .milliseconds(10), at now: Duration
    ) -> DegradeTransition? {
        #expect(rule.admit(now: now) == .pass)
        return rule.record(latency: latency, failed: failed, probe: false, now: now)
    }

    /// An error-ratio rule degraded at `t0` by four errors.
    private func degraded() -> DegradeRule {
        var degraded = rule(.errorRatio(percent: 50))
        for _ in 0..<4 { request(&degraded, failed: true, at: Self.t0) }
        #expect(degraded.state(now: Self.t0) == .degraded)
        return degraded
    }

    @Test func defaults() {
        let policy = DegradePolicy(trigger: .errorCount(100))
        #expect(policy.window == .seconds(10))
        #expect(policy.minRequests == 20)
        #expect(policy.recovery == .seconds(30))
        #expect(!policy.isSlow(.seconds(100)))
        #expect(
            DegradePolicy(trigger: .slowRatio(slowerThan: .milliseconds(500), percent: 50)).isSlow(.milliseconds(501)))
    }

    @Test func slowRatioTrips() {
        var slow = rule(.slowRatio(slowerThan: .milliseconds(500), percent: 50))
        #expect(request(&slow, latency: .milliseconds(600), at: Self.t0) == nil)
        #expect(request(&slow, latency: .milliseconds(600), at: Self.t0) == nil)
        #expect(request(&slow, latency: .milliseconds(400), at: Self.t0) == nil)
        // Exactly 500ms is not slow, and 2 of 4 is not more than 50%. Errors do not matter to this rule.
        #expect(request(&slow, failed: true, latency: .milliseconds(500), at: Self.t0) == nil)
        #expect(slow.snapshot.slowRequests == 2)
        let transition = request(&slow, latency: .milliseconds(600), at: Self.t0)
        #expect(
            transition
                == DegradeTransition(from: .normal, to: .degraded, reason: "slow ratio 60.0% > 50% (slower than 500ms)")
        )
        #expect(
            slow.snapshot
                == DegradeSnapshot(
                    state: .degraded, requests: 5, errors: 1, slowRequests: 3, retryAt: Self.t0 + .seconds(30)))
    }

    @Test func errorRatioTrips() {
        var errors = rule(.errorRatio(percent: 50))
        for failed in [true, false, true, false] { #expect(request(&errors, failed: failed, at: Self.t0) == nil) }
        #expect(errors.state(now: Self.t0) == .normal)
        #expect(request(&errors, failed: true, at: Self.t0)?.reason == "error ratio 60.0% > 50%")
        #expect(errors.state(now: Self.t0) == .degraded)
    }

    @Test func aHundredPercentTripsWhenEverythingFails() {
        var all = rule(.errorRatio(percent: 100), minRequests: 2)
        #expect(request(&all, failed: true, at: Self.t0) == nil)
        #expect(request(&all, failed: false, at: Self.t0) == nil)
        #expect(request(&all, failed: true, at: Self.t0) == nil)

        var allSlow = rule(.slowRatio(slowerThan: .milliseconds(100), percent: 100), minRequests: 2)
        #expect(request(&allSlow, latency: .seconds(1), at: Self.t0) == nil)
        #expect(
            request(&allSlow, latency: .seconds(1), at: Self.t0)?.reason
                == "slow ratio 100.0% > 100% (slower than 100ms)")

        var allFailed = rule(.errorRatio(percent: 100), minRequests: 2)
        request(&allFailed, failed: true, at: Self.t0)
        #expect(request(&allFailed, failed: true, at: Self.t0)?.to == .degraded)
    }

    @Test func errorCountTripsAboveTheCount() {
        var count = rule(.errorCount(3), window: .seconds(60), minRequests: 1)
        for _ in 0..<3 { #expect(request(&count, failed: true, at: Self.t0) == nil) }
        for _ in 0..<10 { #expect(request(&count, failed: false, at: Self.t0) == nil) }
        #expect(request(&count, failed: true, at: Self.t0)?.reason == "error count 4 > 3 in 60s")
    }

    @Test func minRequestsMustBeReached() {
        var errors = rule(.errorRatio(percent: 50), minRequests: 5)
        for _ in 0..<4 { #expect(request(&errors, failed: true, at: Self.t0) == nil) }
        #expect(errors.snapshot.errors == 4)
        #expect(request(&errors, failed: true, at: Self.t0)?.to == .degraded)

        // It applies to the error count too, as in Sentinel.
        var count = rule(.errorCount(1), minRequests: 3)
        #expect(request(&count, failed: true, at: Self.t0) == nil)
        #expect(request(&count, failed: true, at: Self.t0) == nil)
        #expect(request(&count, failed: true, at: Self.t0)?.to == .degraded)
    }

    @Test func windowExpires() {
        // 10 buckets of 1s: requests at 1000.5s count until 1009.999s.
        var count = rule(.errorCount(2), window: .seconds(10), minRequests: 1)
        for _ in 0..<2 { request(&count, failed: true, at: Self.t0 + .milliseconds(500)) }
        #expect(count.snapshot(now: Self.t0 + .milliseconds(9_999)).errors == 2)
        #expect(count.snapshot(now: Self.t0 + .seconds(10)).errors == 0)

        var inTime = count
        #expect(request(&inTime, failed: true, at: Self.t0 + .milliseconds(9_999))?.to == .degraded)
        var late = count
        #expect(request(&late, failed: true, at: Self.t0 + .seconds(10)) == nil)
        #expect(late.snapshot.errors == 1)
    }

    @Test func degradedWaitsThenLetsOneProbeThrough() {
        var errors = degraded()
        #expect(errors.admit(now: Self.t0) == .degraded(retryAfter: .seconds(30)))
        #expect(errors.admit(now: Self.t0 + .seconds(10)) == .degraded(retryAfter: .seconds(20)))
        #expect(errors.admit(now: Self.t0 + .seconds(30)) == .probe)
        #expect(errors.state(now: Self.t0 + .seconds(30)) == .probing)
        // Only one probe: others wait for it (or for it to be declared lost).
        #expect(errors.admit(now: Self.t0 + .seconds(31)) == .degraded(retryAfter: .seconds(29)))
        #expect(errors.snapshot.retryAt == Self.t0 + .seconds(60))
    }

    @Test func probeSuccessRestoresWithAFreshWindow() {
        var count = rule(.errorCount(2), minRequests: 1)
        for _ in 0..<3 { request(&count, failed: true, at: Self.t0) }
        #expect(count.admit(now: Self.t0 + .seconds(30)) == .probe)
        let transition = count.record(
            latency: .milliseconds(5), failed: false, probe: true, now: Self.t0 + .seconds(31))
        #expect(transition == DegradeTransition(from: .probing, to: .normal, reason: "probe succeeded"))
        #expect(count.snapshot(now: Self.t0 + .seconds(31)).requests == 0)
        // The three errors of a second ago are forgotten: two new ones do not trip, a third does.
        for _ in 0..<2 { #expect(request(&count, failed: true, at: Self.t0 + .seconds(31)) == nil) }
        #expect(request(&count, failed: true, at: Self.t0 + .seconds(31))?.to == .degraded)
    }

    @Test func probeFailureDegradesAgain() {
        var errors = degraded()
        #expect(errors.admit(now: Self.t0 + .seconds(30)) == .probe)
        let transition = errors.record(latency: .zero, failed: true, probe: true, now: Self.t0 + .seconds(32))
        #expect(transition == DegradeTransition(from: .probing, to: .degraded, reason: "probe failed"))
        #expect(errors.admit(now: Self.t0 + .seconds(32)) == .degraded(retryAfter: .seconds(30)))
        #expect(errors.admit(now: Self.t0 + .seconds(62)) == .probe)
    }

    @Test func slowProbeFailsOnlyASlowRatioRule() {
        var slow = rule(.slowRatio(slowerThan: .milliseconds(500), percent: 50), minRequests: 1)
        request(&slow, latency: .seconds(1), at: Self.t0)
        #expect(slow.admit(now: Self.t0 + .seconds(30)) == .probe)
        let transition = slow.record(
            latency: .milliseconds(700), failed: false, probe: true, now: Self.t0 + .seconds(31))
        #expect(transition?.reason == "probe slow (700ms > 500ms)")
        #expect(transition?.to == .degraded)
        // A fast but failed probe fails a slow-ratio rule too (Sentinel would only look at the time).
        #expect(slow.admit(now: Self.t0 + .seconds(61)) == .probe)
        #expect(
            slow.record(latency: .milliseconds(1), failed: true, probe: true, now: Self.t0 + .seconds(61))?.to
                == .degraded)

        var errors = degraded()
        #expect(errors.admit(now: Self.t0 + .seconds(30)) == .probe)
        #expect(
            errors.record(latency: .seconds(20), failed: false, probe: true, now: Self.t0 + .seconds(50))?.to
                == .normal)
    }

    @Test func aLostProbeDoesNotStick() {
        var errors = degraded()
        #expect(errors.admit(now: Self.t0 + .seconds(30)) == .probe)
        #expect(errors.admit(now: Self.t0 + .milliseconds(59_999)) == .degraded(retryAfter: .milliseconds(1)))
        #expect(errors.admit(now: Self.t0 + .seconds(60)) == .probe)
        #expect(errors.state(now: Self.t0 + .seconds(60)) == .probing)
        #expect(errors.record(latency: .zero, failed: false, probe: true, now: Self.t0 + .seconds(61))?.to == .normal)
        #expect(errors.admit(now: Self.t0 + .seconds(61)) == .pass)
    }

    @Test func onlyProbeReportsDecide() {
        var errors = degraded()
        // Requests admitted before the rule tripped, ending now, are ignored.
        #expect(errors.record(latency: .zero, failed: false, probe: false, now: Self.t0 + .seconds(1)) == nil)
        // A probe report while degraded (a superseded probe) is ignored.
        #expect(errors.record(latency: .zero, failed: false, probe: true, now: Self.t0 + .seconds(2)) == nil)
        #expect(errors.state(now: Self.t0 + .seconds(2)) == .degraded)
        #expect(errors.admit(now: Self.t0 + .seconds(30)) == .probe)
        #expect(errors.record(latency: .zero, failed: false, probe: false, now: Self.t0 + .seconds(31)) == nil)
        #expect(errors.state(now: Self.t0 + .seconds(31)) == .probing)
        #expect(errors.record(latency: .zero, failed: false, probe: true, now: Self.t0 + .seconds(31))?.to == .normal)
        // A probe report when normal is stale: not counted.
        #expect(errors.record(latency: .zero, failed: true, probe: true, now: Self.t0 + .seconds(31)) == nil)
        #expect(errors.snapshot.requests == 0)
    }

    @Test func timeGoingBackwardsIsHarmless() {
        var errors = degraded()
        #expect(errors.admit(now: Self.t0 - .seconds(100)) == .degraded(retryAfter: .seconds(30)))
        #expect(errors.admit(now: Self.t0 + .seconds(30)) == .probe)
        // Back in time while probing: no second probe, no negative wait.
        #expect(errors.admit(now: Self.t0) == .degraded(retryAfter: .seconds(30)))
        #expect(errors.record(latency: .zero, failed: false, probe: true, now: .zero)?.to == .normal)
        // Outcomes from the past count in the latest bucket.
        request(&errors, failed: true, at: .zero)
        #expect(errors.snapshot(now: .zero).errors == 1)
    }

    @Test func sharedRuleAndSwitch() {
        let shared = SharedDegradeRule(policy: DegradePolicy(trigger: .errorCount(0), minRequests: 1))
        #expect(shared.admit(now: Self.t0) == .pass)
        #expect(
            shared.record(latency: .zero, failed: true, probe: false, now: Self.t0)?.reason
                == "error count 1 > 0 in 10s")
        #expect(shared.state(now: Self.t0) == .degraded)
        #expect(shared.admit(now: Self.t0 + .seconds(30)) == .probe)
        #expect(shared.snapshot.state == .probing)
        #expect(shared.record(latency: .zero, failed: false, probe: true, now: Self.t0 + .seconds(30))?.to == .normal)
        #expect(shared.snapshot(now: Self.t0 + .seconds(30)).retryAt == nil)

        let manual = DegradeSwitch()
        #expect(!manual.isOn)
        #expect(manual.set(true) == false)
        #expect(manual.isOn)
        #expect(manual.set(true) == true)
        #expect(manual.set(false) == true)
        #expect(!manual.isOn)
        #expect(DegradeSwitch(on: true).isOn)
    }
}
