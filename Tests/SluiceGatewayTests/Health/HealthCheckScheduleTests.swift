import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Active health checks: jittered probe times, one probe in flight.
@Suite struct HealthCheckScheduleTests {
    @Test func nextProbeWithoutJitterIsExact() {
        var rng = SplitMix64(state: 1)
        let schedule = HealthCheckSchedule(interval: .seconds(10), jitter: 0)
        #expect(schedule.nextProbe(after: .seconds(5), using: &rng) == .seconds(15))
    }

    @Test func jitterStaysWithinTenPercentAndUsesTheRange() {
        var rng = SplitMix64(state: 42)
        let schedule = HealthCheckSchedule(interval: .seconds(10), jitter: 0.1)
        let now = Duration.seconds(1000)
        var lowest = Duration.seconds(1_000_000), highest = Duration.zero
        for _ in 0..<10_000 {
            let gap = schedule.nextProbe(after: now, using: &rng) - now
            #expect(gap >= .seconds(9) && gap <= .seconds(11))
            lowest = min(lowest, gap)
            highest = max(highest, gap)
        }
        // Spread over the whole window, not stuck at the interval.
        #expect(lowest < .milliseconds(9_050))
        #expect(highest > .milliseconds(10_950))
    }

    @Test func atMostOneProbeInFlight() {
        var schedule = HealthCheckSchedule(interval: .seconds(5))
        #expect(!schedule.isProbeInFlight)
        #expect(schedule.finishProbe(now: .seconds(1)) == nil)
        #expect(schedule.startProbe(now: .seconds(10)) == true)
        #expect(schedule.isProbeInFlight)
        #expect(schedule.startProbe(now: .seconds(15)) == false)
        #expect(schedule.probeStartedAt == .seconds(10))
        #expect(schedule.finishProbe(now: .milliseconds(17_500)) == .milliseconds(7_500))
        #expect(!schedule.isProbeInFlight)
        #expect(schedule.startProbe(now: .seconds(20)) == true)
    }
}
