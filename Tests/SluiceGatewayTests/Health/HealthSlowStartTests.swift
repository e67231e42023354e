import Testing

@testable import SluiceGateway

/// Slow start: the weight ramp after a server becomes healthy.
@Suite struct HealthSlowStartTests {
    @Test func slowStartRampsFromTheFloorToFull() {
        let slowStart = SlowStart()
        let since = Duration.seconds(100), window = Duration.seconds(10)
        #expect(slowStart.scale(since: since, now: since, window: window) == 0.1)
        #expect(slowStart.scale(since: since, now: .seconds(105), window: window) == 0.55)
        #expect(slowStart.scale(since: since, now: .seconds(110), window: window) == 1.0)
        #expect(slowStart.scale(since: since, now: .seconds(500), window: window) == 1.0)
        #expect(slowStart.scale(since: since, now: .seconds(99), window: window) == 0.1)
        #expect(slowStart.scale(since: since, now: since, window: .zero) == 1.0)
        let fromZero = SlowStart(minimumScale: 0)
        #expect(fromZero.scale(since: .zero, now: .milliseconds(2_500), window: window) == 0.25)
    }
}
