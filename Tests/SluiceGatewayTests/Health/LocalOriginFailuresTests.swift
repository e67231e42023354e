import Testing

@testable import SluiceGateway

/// A server the gateway cannot reach leaves rotation at once and comes back on a probe or a passing check.
@Suite struct LocalOriginFailuresTests {
    func settings(maxFails: Int = 1, checks: Bool = false) -> LocalOriginFailures.Settings {
        var settings = LocalOriginFailures.Settings()
        settings.maxFails = maxFails
        settings.backoff = .seconds(1)
        settings.maxBackoff = .seconds(8)
        settings.activeChecks = checks
        return settings
    }

    @Test func oneFailureTakesTheServerOutForTheBackoff() {
        var state = LocalOriginFailures(settings: settings())
        #expect(state.isClean && !state.isOut(now: .seconds(10)))
        #expect(state.failure(now: .seconds(10)) == .out(until: .seconds(11)))
        #expect(state.isOut(now: .seconds(10)) && state.isOut(now: .milliseconds(10_999)))
        #expect(!state.isOut(now: .seconds(11)), "the backoff is over: the next request probes it")
        #expect(!state.isClean)
    }

    @Test func failuresOfAttemptsAlreadyUnderWayChangeNothing() {
        var state = LocalOriginFailures(settings: settings())
        _ = state.failure(now: .seconds(10))
        #expect(state.failure(now: .milliseconds(10_100)) == nil)
        #expect(state.failure(now: .milliseconds(10_900)) == nil)
        #expect(state.failedProbes == 0)
        #expect(!state.isOut(now: .seconds(11)), "the out period was not stretched")
    }

    @Test func eachFailedProbeDoublesTheBackoffUpToTheCap() {
        var state = LocalOriginFailures(settings: settings())
        var now = Duration.seconds(100)
        var outs: [Duration] = []
        guard case .out(let first?) = state.failure(now: now) else { Issue.record("not taken out"); return }
        outs.append(first - now)
        for _ in 0..<5 {
            now = state.outUntil!  // the probe goes as soon as it may, and fails
            guard case .out(let until?) = state.failure(now: now) else { Issue.record("not out again"); return }
            outs.append(until - now)
        }
        #expect(outs == [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(8), .seconds(8)])
    }

    @Test func anAnswerAfterTheBackoffBringsItBackAndResetsTheBackoff() {
        var state = LocalOriginFailures(settings: settings())
        _ = state.failure(now: .seconds(10))
        _ = state.failure(now: .seconds(11))  // failed probe: out for 2 s
        #expect(state.success(now: .seconds(12)) == nil, "an answer to a request sent before it went out proves little")
        #expect(state.isOut(now: .seconds(12)))
        #expect(state.success(now: .seconds(13)) == .back)
        #expect(state.isClean && !state.isOut(now: .seconds(13)))
        #expect(state.failure(now: .seconds(20)) == .out(until: .seconds(21)), "the backoff starts over")
    }

    @Test func maxFailsCountsConsecutiveFailuresOnly() {
        var state = LocalOriginFailures(settings: settings(maxFails: 3))
        #expect(state.failure(now: .seconds(1)) == nil)
        #expect(state.failure(now: .seconds(2)) == nil)
        #expect(state.success(now: .seconds(3)) == nil)
        #expect(state.isClean, "an answer resets the count")
        #expect(state.failure(now: .seconds(4)) == nil)
        #expect(state.failure(now: .seconds(5)) == nil)
        #expect(state.failure(now: .seconds(6)) == .out(until: .seconds(7)))
    }

    @Test func zeroMaxFailsNeverTakesItOut() {
        var state = LocalOriginFailures(settings: settings(maxFails: 0))
        for second in 1...100 { #expect(state.failure(now: .seconds(Int64(second))) == nil) }
        #expect(state.isClean && !state.isOut(now: .seconds(100)))
    }

    @Test func withActiveChecksItWaitsForAPassingCheck() {
        var state = LocalOriginFailures(settings: settings(checks: true))
        #expect(state.failure(now: .seconds(10)) == .out(until: nil))
        #expect(state.isOut(now: .seconds(10_000)), "no time-based probe: the checker probes")
        #expect(state.success(now: .seconds(10_000)) == nil, "in-flight answers do not bring it back")
        #expect(state.failure(now: .seconds(10_001)) == nil)
        #expect(state.checkPassed() == .back)
        #expect(!state.isOut(now: .seconds(10_001)) && state.isClean)
        #expect(state.checkPassed() == nil, "a check passing while in rotation is no transition")
    }

    @Test func serverHealthPublishesTheStateToPicksOnEveryLoop() {
        var local = settings()
        local.backoff = .milliseconds(500)
        let health = ServerHealth(localOrigin: local)
        #expect(health.isAvailable(now: 1_000))
        #expect(health.recordAnswer(now: 1_000) == nil)
        #expect(health.recordLocalFailure(now: 1_000) == .out(until: .nanoseconds(500_001_000)))
        #expect(!health.isAvailable(now: 1_000) && health.isUnreachable(now: 500_000_999))
        #expect(health.isAvailable(now: 500_001_000), "probe time")
        #expect(health.recordAnswer(now: 500_002_000) == .back)
        #expect(health.isAvailable(now: 500_002_000))

        var checked = settings(checks: true)
        checked.maxFails = 1
        let withChecks = ServerHealth(localOrigin: checked)
        withChecks.recordLocalFailure(now: 0)
        #expect(!withChecks.isAvailable(now: .max - 1))
        #expect(withChecks.checkPassed() == .back)
        #expect(withChecks.isAvailable(now: 1))
    }
}
