import Testing

@testable import SluiceGateway

/// Passive health: consecutive-error and success-rate ejection, ejection lengths, the ejected-share cap.
@Suite struct HealthOutlierDetectorTests {
    private static let t0 = Duration.seconds(1_000)

    private func fail(
        _ detector: inout OutlierDetector, _ server: Int, times: Int, with outcome: OutlierDetector.Outcome =
            .serverError(status: 500), at now: Duration
    ) -> [OutlierDetector.Ejection] {
        (0..<times).compactMap { _ in detector.record(server: server, outcome: outcome, now: now) }
    }

    @Test func fiveConsecutive5xxEject() {
        var detector = OutlierDetector(serverCount: 3, now: Self.t0)
        #expect(fail(&detector, 0, times: 4, at: Self.t0).isEmpty)
        #expect(!detector.isEjected(0, now: Self.t0))
        let ejection = detector.record(server: 0, outcome: .serverError(status: 500), now: Self.t0)
        #expect(ejection == .init(server: 0, reason: .consecutive5xx, until: Self.t0 + .seconds(30)))
        #expect(detector.isEjected(0, now: Self.t0))
        #expect(!detector.isEjected(1, now: Self.t0))
        #expect(detector.ejectedCount(now: Self.t0) == 1)
    }

    @Test func aSuccessInBetweenResets() {
        var detector = OutlierDetector(serverCount: 3, now: Self.t0)
        #expect(fail(&detector, 0, times: 4, at: Self.t0).isEmpty)
        #expect(detector.record(server: 0, outcome: .success, now: Self.t0) == nil)
        #expect(fail(&detector, 0, times: 4, at: Self.t0).isEmpty)
        // A status below 500 given as `.serverError` is a success too.
        #expect(detector.record(server: 0, outcome: .serverError(status: 404), now: Self.t0) == nil)
        #expect(fail(&detector, 0, times: 4, at: Self.t0).isEmpty)
        #expect(fail(&detector, 0, times: 1, at: Self.t0).count == 1)
    }

    @Test func gatewayFailuresAreCountedSeparately() {
        // Gateway failures alone: five of them eject, for a gateway failure (checked before 5xx, as Envoy does).
        // (Five servers, so that two may be ejected at once.)
        var detector = OutlierDetector(serverCount: 5, now: Self.t0)
        #expect(fail(&detector, 0, times: 4, with: .gatewayFailure, at: Self.t0).isEmpty)
        #expect(
            detector.record(server: 0, outcome: .gatewayFailure, now: Self.t0)
                == .init(server: 0, reason: .consecutiveGatewayFailure, until: Self.t0 + .seconds(30)))
        // 502/503/504 answers are gateway failures too.
        #expect(fail(&detector, 1, times: 5, with: .serverError(status: 504), at: Self.t0).map(\.reason) == [
            .consecutiveGatewayFailure
        ])

        // With 5xx ejection off: a 500 breaks a run of gateway failures, and 500s never make one.
        let gatewayOnly = OutlierDetectorConfiguration(consecutive5xx: 0)
        var other = OutlierDetector(serverCount: 3, configuration: gatewayOnly, now: Self.t0)
        #expect(fail(&other, 0, times: 4, with: .serverError(status: 503), at: Self.t0).isEmpty)
        #expect(fail(&other, 0, times: 1, with: .serverError(status: 500), at: Self.t0).isEmpty)
        #expect(fail(&other, 0, times: 4, with: .gatewayFailure, at: Self.t0).isEmpty)
        #expect(fail(&other, 0, times: 1, with: .gatewayFailure, at: Self.t0).map(\.reason) == [
            .consecutiveGatewayFailure
        ])
        #expect(fail(&other, 1, times: 20, with: .serverError(status: 500), at: Self.t0).isEmpty)

        // With gateway ejection off, gateway failures still count as 5xx.
        let fiveXXOnly = OutlierDetectorConfiguration(consecutiveGatewayFailure: 0)
        var third = OutlierDetector(serverCount: 3, configuration: fiveXXOnly, now: Self.t0)
        #expect(fail(&third, 0, times: 3, with: .gatewayFailure, at: Self.t0).isEmpty)
        #expect(fail(&third, 0, times: 2, at: Self.t0).map(\.reason) == [.consecutive5xx])
    }

    @Test func ejectionsLengthenAndAreCapped() {
        var detector = OutlierDetector(serverCount: 3, now: Self.t0)
        var now = Self.t0
        var lengths: [Duration] = []
        for _ in 0..<3 {
            let ejection = fail(&detector, 0, times: 5, at: now)
            lengths.append(ejection[0].until - now)
            now = ejection[0].until
        }
        #expect(lengths == [.seconds(30), .seconds(60), .seconds(90)])

        var capped = OutlierDetector(serverCount: 3, configuration: .init(maxEjection: .seconds(75)), now: Self.t0)
        now = Self.t0
        lengths = []
        for _ in 0..<5 {
            let ejection = fail(&capped, 0, times: 5, at: now)
            lengths.append(ejection[0].until - now)
            now = ejection[0].until
        }
        #expect(lengths == [.seconds(30), .seconds(60), .seconds(75), .seconds(75), .seconds(75)])
        #expect(capped.multiplier(of: 0) == 3)
    }

    @Test func unejectionHappensExactlyAtExpiry() {
        var detector = OutlierDetector(serverCount: 3, now: Self.t0)
        _ = fail(&detector, 0, times: 5, at: Self.t0)
        let expiry = Self.t0 + .seconds(30)
        #expect(detector.isEjected(0, now: expiry - .nanoseconds(1)))
        #expect(!detector.isEjected(0, now: expiry))
        #expect(detector.ejectedCount(now: expiry - .nanoseconds(1)) == 1)
        #expect(detector.ejectedCount(now: expiry) == 0)
        // Answers from requests in flight while ejected neither extend the ejection nor count later.
        #expect(fail(&detector, 0, times: 5, at: expiry - .seconds(1)).isEmpty)
        #expect(!detector.isEjected(0, now: expiry))
        // Counters start over on un-ejection.
        #expect(fail(&detector, 0, times: 4, at: expiry).isEmpty)
        #expect(fail(&detector, 0, times: 1, at: expiry).map(\.until) == [expiry + .seconds(60)])
    }

    @Test func maxEjectedPercentIsHonoured() {
        var detector = OutlierDetector(serverCount: 4, now: Self.t0)
        let ejected = (0..<4).flatMap { fail(&detector, $0, times: 5, at: Self.t0) }.map(\.server)
        #expect(ejected == [0, 1])
        #expect(detector.ejectedCount(now: Self.t0) == 2)
        #expect((0..<4).map { detector.isEjected($0, now: Self.t0) } == [true, true, false, false])
    }

    @Test func aRefusedServerNeedsAFreshRunOnceThereIsRoom() {
        var detector = OutlierDetector(serverCount: 4, now: Self.t0)
        let later = Self.t0 + .seconds(10)
        #expect(fail(&detector, 0, times: 5, at: Self.t0).map(\.server) == [0])  // until t0 + 30 s
        #expect(fail(&detector, 1, times: 5, at: later).map(\.server) == [1])  // until t0 + 40 s
        #expect(fail(&detector, 2, times: 5, at: later).isEmpty)
        // The refused server's counter was reset: one more error is not a new run of five.
        #expect(fail(&detector, 2, times: 1, at: later).isEmpty)
        // Server 0 is back, server 1 still out: room for one, and 4 more errors complete server 2's run.
        let back = Self.t0 + .seconds(30)
        #expect(detector.ejectedCount(now: back) == 1)
        #expect(fail(&detector, 2, times: 3, at: back).isEmpty)
        #expect(fail(&detector, 2, times: 1, at: back).map(\.server) == [2])
        #expect(detector.ejectedCount(now: back) == 2)
        #expect(fail(&detector, 3, times: 5, at: back).isEmpty)
    }

    @Test func theCapIsNeverOvershotButOneEjectionIsAlwaysAllowed() {
        // 3 servers at 50%: a second ejection would be 67%.
        var three = OutlierDetector(serverCount: 3, now: Self.t0)
        #expect((0..<3).flatMap { fail(&three, $0, times: 5, at: Self.t0) }.map(\.server) == [0])
        // 2 servers at 10%: one ejection still goes through.
        var two = OutlierDetector(serverCount: 2, configuration: .init(maxEjectedPercent: 10), now: Self.t0)
        #expect((0..<2).flatMap { fail(&two, $0, times: 5, at: Self.t0) }.map(\.server) == [0])
        // A lone server is never ejected.
        var one = OutlierDetector(serverCount: 1, now: Self.t0)
        #expect(fail(&one, 0, times: 10, at: Self.t0).isEmpty)
    }

    @Test func theMultiplierDecaysAfterAHealthyInterval() {
        var detector = OutlierDetector(serverCount: 3, now: Self.t0)
        _ = fail(&detector, 0, times: 5, at: Self.t0)
        #expect(detector.multiplier(of: 0) == 1)
        // Not yet an interval: nothing closes.
        #expect(detector.tick(now: Self.t0 + .seconds(9)).isEmpty)
        // The tick that un-ejects does not decay (the server was ejected when it fired).
        detector.tick(now: Self.t0 + .seconds(30))
        #expect(!detector.isEjected(0, now: Self.t0 + .seconds(30)))
        #expect(detector.multiplier(of: 0) == 1)
        // A tick before the interval has passed since the last close does not decay either.
        detector.tick(now: Self.t0 + .seconds(39))
        #expect(detector.multiplier(of: 0) == 1)
        detector.tick(now: Self.t0 + .seconds(40))
        #expect(detector.multiplier(of: 0) == 0)
        detector.tick(now: Self.t0 + .seconds(50))
        #expect(detector.multiplier(of: 0) == 0)
        // Back to a 30 s ejection.
        #expect(fail(&detector, 0, times: 5, at: Self.t0 + .seconds(50)).map(\.until) == [Self.t0 + .seconds(80)])
    }

    private static let rateOnly = OutlierDetectorConfiguration(
        consecutive5xx: 0, consecutiveGatewayFailure: 0, successRate: .init())

    private func load(_ detector: inout OutlierDetector, _ server: Int, requests: Int, successes: Int) {
        for index in 0..<requests {
            let outcome: OutlierDetector.Outcome = index < successes ? .success : .serverError(status: 500)
            detector.record(server: server, outcome: outcome, now: Self.t0 + .seconds(1))
        }
    }

    @Test func successRateEjectsTheOutlierOnly() {
        var detector = OutlierDetector(serverCount: 6, configuration: Self.rateOnly, now: Self.t0)
        for server in 0..<4 { load(&detector, server, requests: 100, successes: 100) }
        load(&detector, 4, requests: 100, successes: 95)
        load(&detector, 5, requests: 100, successes: 50)
        // Rates 1, 1, 1, 1, 0.95, 0.5: mean 0.9083, stdev 0.1835, threshold 0.5596.
        #expect(detector.tick(now: Self.t0 + .seconds(9)).isEmpty)
        let ejections = detector.tick(now: Self.t0 + .seconds(10))
        #expect(ejections == [.init(server: 5, reason: .successRate, until: Self.t0 + .seconds(40))])
        #expect(!detector.isEjected(4, now: Self.t0 + .seconds(10)))
        // The interval's counts are gone: the next interval judges afresh (no traffic, nobody qualifies).
        #expect(detector.tick(now: Self.t0 + .seconds(20)).isEmpty)
    }

    @Test func successRateNeedsEnoughRequestsAndHosts() {
        // Server 5 fails everything but has 99 requests: not judged, and the 5 judged are all at 100%.
        var detector = OutlierDetector(serverCount: 6, configuration: Self.rateOnly, now: Self.t0)
        for server in 0..<5 { load(&detector, server, requests: 100, successes: 100) }
        load(&detector, 5, requests: 99, successes: 0)
        #expect(detector.tick(now: Self.t0 + .seconds(10)).isEmpty)

        // Only 4 servers qualify (minimum 5): no judgement, even of an obvious outlier.
        var few = OutlierDetector(serverCount: 6, configuration: Self.rateOnly, now: Self.t0)
        for server in 0..<3 { load(&few, server, requests: 100, successes: 100) }
        load(&few, 3, requests: 100, successes: 0)
        #expect(few.tick(now: Self.t0 + .seconds(10)).isEmpty)
    }
}
