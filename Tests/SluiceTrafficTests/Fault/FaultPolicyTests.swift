import SluiceTestSupport
import Testing

@testable import SluiceTraffic

/// Envoy's fault filter: independent percentage draws, header control, delay parsing.
@Suite struct FaultPolicyTests {
    private struct Tally {
        var delays = 0
        var aborts = 0
        var both = 0
        var total = 0
    }

    private func tally(
        _ policy: FaultPolicy, draws: Int = 100_000, seed: UInt64 = 42, delayHeader: String? = nil,
        abortHeader: String? = nil
    ) -> Tally {
        var rng = SplitMix64(state: seed)
        var tally = Tally()
        for _ in 0..<draws {
            tally.total += 1
            switch policy.decide(delayHeader: delayHeader, abortHeader: abortHeader, using: &rng) {
            case .none: break
            case .delay: tally.delays += 1
            case .abort: tally.aborts += 1
            case .delayThenAbort:
                tally.delays += 1
                tally.aborts += 1
                tally.both += 1
            }
        }
        return tally
    }

    private func fraction(_ count: Int, of tally: Tally) -> Double { Double(count) / Double(tally.total) }

    @Test func parseDelay() {
        #expect(FaultPolicy.parseDelay("250ms") == .milliseconds(250))
        #expect(FaultPolicy.parseDelay("1s") == .seconds(1))
        #expect(FaultPolicy.parseDelay("1.5s") == .milliseconds(1_500))
        #expect(FaultPolicy.parseDelay("250") == .milliseconds(250))
        #expect(FaultPolicy.parseDelay("0.5") == .microseconds(500))
        #expect(FaultPolicy.parseDelay("1.25ms") == .microseconds(1_250))
        #expect(FaultPolicy.parseDelay(" 100MS\t") == .milliseconds(100))
        #expect(FaultPolicy.parseDelay("0") == .zero)
        #expect(FaultPolicy.parseDelay("0.0000000019s") == .nanoseconds(1))
        for bad in [
            "", " ", "ms", "s", "-1s", "+1s", "1.5.2s", ".5s", "1.s", "abc", "1m", "1 s", "10sec", "1e3",
            "99999999999999999999", "9223372037s",
        ] {
            #expect(FaultPolicy.parseDelay(bad) == nil, "\(bad)")
        }
    }

    @Test func nothingConfiguredDoesNothing() {
        let policy = FaultPolicy()
        #expect(!policy.isActive)
        var rng = SplitMix64(state: 1)
        #expect(policy.decide(delayHeader: "100ms", abortHeader: "503", using: &rng) == .none)
    }

    @Test func percentZeroAndHundredAreExact() {
        let always = FaultPolicy(delay: .milliseconds(100), delayPercent: 100, abortStatus: 503, abortPercent: 0)
        let result = tally(always, draws: 1_000)
        #expect(result.delays == 1_000)
        #expect(result.aborts == 0)
        var rng = SplitMix64(state: 7)
        #expect(always.decide(delayHeader: nil, abortHeader: nil, using: &rng) == .delay(.milliseconds(100)))
        let both = FaultPolicy(delay: .seconds(1), abortStatus: 502)
        #expect(
            both.decide(delayHeader: nil, abortHeader: nil, using: &rng) == .delayThenAbort(.seconds(1), status: 502))
        let inactive = FaultPolicy(delay: .seconds(1), delayPercent: 0, abortStatus: 503, abortPercent: 0)
        #expect(!inactive.isActive)
        #expect(tally(inactive, draws: 1_000).delays == 0)
    }

    @Test func percentagesAreIndependentDraws() {
        let policy = FaultPolicy(delay: .milliseconds(100), delayPercent: 10, abortStatus: 503, abortPercent: 5)
        let result = tally(policy)
        #expect(abs(fraction(result.delays, of: result) - 0.10) <= 0.005)
        #expect(abs(fraction(result.aborts, of: result) - 0.05) <= 0.005)
        // Independent: both hit about 10% × 5% = 0.5% of the time.
        #expect(abs(fraction(result.both, of: result) - 0.005) <= 0.002)
    }

    @Test func fractionalPercentages() {
        let policy = FaultPolicy(abortStatus: 503, abortPercent: 0.5)
        let result = tally(policy)
        #expect(abs(fraction(result.aborts, of: result) - 0.005) <= 0.001)
        #expect(result.delays == 0)
        // Another seed, same bound.
        let other = tally(policy, seed: 0xDEAD_BEEF)
        #expect(abs(fraction(other.aborts, of: other) - 0.005) <= 0.001)
    }

    @Test func headersAreIgnoredWithoutHeaderControl() {
        let policy = FaultPolicy(delay: .milliseconds(100), delayPercent: 0, abortStatus: 503, abortPercent: 0)
        let result = tally(policy, draws: 1_000, delayHeader: "250ms", abortHeader: "500")
        #expect(result.delays == 0)
        #expect(result.aborts == 0)
    }

    @Test func headersOverrideWithHeaderControl() {
        let policy = FaultPolicy(
            delay: .milliseconds(100), delayPercent: 0, abortStatus: 503, abortPercent: 0, headerControl: true)
        #expect(policy.isActive)
        var rng = SplitMix64(state: 3)
        #expect(policy.decide(delayHeader: "250ms", abortHeader: nil, using: &rng) == .delay(.milliseconds(250)))
        #expect(policy.decide(delayHeader: nil, abortHeader: "500", using: &rng) == .abort(status: 500))
        #expect(
            policy.decide(delayHeader: "1.5s", abortHeader: " 429 ", using: &rng)
                == .delayThenAbort(.milliseconds(1_500), status: 429))
        // Capped at 60s.
        #expect(policy.decide(delayHeader: "120s", abortHeader: nil, using: &rng) == .delay(.seconds(60)))
        // Headers apply for certain: every one of 1000 requests.
        let result = tally(policy, draws: 1_000, delayHeader: "5", abortHeader: "503")
        #expect(result.both == 1_000)
    }

    @Test func zeroDelayHeaderMeansNoDelay() {
        let policy = FaultPolicy(delay: .milliseconds(100), delayPercent: 100, headerControl: true)
        var rng = SplitMix64(state: 5)
        #expect(policy.decide(delayHeader: "0", abortHeader: nil, using: &rng) == .none)
        #expect(policy.decide(delayHeader: nil, abortHeader: nil, using: &rng) == .delay(.milliseconds(100)))
    }

    @Test func invalidHeadersFallBackToTheConfiguredParts() {
        let policy = FaultPolicy(
            delay: .milliseconds(100), delayPercent: 100, abortStatus: 503, abortPercent: 100, headerControl: true)
        var rng = SplitMix64(state: 9)
        for (delay, abort) in [("soon", "600"), ("-5ms", "199"), ("1m", "abc"), ("", "5030"), ("1.s", "")] {
            #expect(
                policy.decide(delayHeader: delay, abortHeader: abort, using: &rng)
                    == .delayThenAbort(.milliseconds(100), status: 503), "\(delay) \(abort)")
        }
        // With nothing configured, invalid headers mean no fault.
        let headersOnly = FaultPolicy(headerControl: true)
        #expect(headersOnly.decide(delayHeader: "later", abortHeader: "600", using: &rng) == .none)
        #expect(headersOnly.decide(delayHeader: nil, abortHeader: "200", using: &rng) == .abort(status: 200))
        #expect(headersOnly.decide(delayHeader: nil, abortHeader: "599", using: &rng) == .abort(status: 599))
    }

    @Test func configuredPercentStillAppliesToTheOtherPart() {
        // A delay header does not force the abort: the abort keeps its own 5% draw.
        let policy = FaultPolicy(abortStatus: 503, abortPercent: 5, headerControl: true)
        let result = tally(policy, delayHeader: "10ms")
        #expect(result.delays == result.total)
        #expect(abs(fraction(result.aborts, of: result) - 0.05) <= 0.005)
    }
}
