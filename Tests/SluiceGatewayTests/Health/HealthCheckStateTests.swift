import Testing

@testable import SluiceGateway

/// Active health checks: rise/fall counting.
@Suite struct HealthCheckStateTests {
    @Test func riseNeedsConsecutiveSuccesses() {
        var state = HealthCheckState(rise: 2, fall: 3, initiallyHealthy: false)
        #expect(state.record(success: true) == nil)
        #expect(!state.isHealthy)
        #expect(state.record(success: true) == .becameHealthy)
        #expect(state.isHealthy)
        #expect(state.record(success: true) == nil)
        #expect(state.consecutiveSuccesses == 3)
        #expect(state.consecutiveFailures == 0)
    }

    @Test func fallNeedsConsecutiveFailures() {
        var state = HealthCheckState(rise: 2, fall: 3)
        #expect(state.isHealthy)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: false) == .becameUnhealthy)
        #expect(!state.isHealthy)
        #expect(state.record(success: false) == nil)
        #expect(state.consecutiveFailures == 4)
        #expect(state.consecutiveSuccesses == 0)
    }

    @Test func flappingKeepsTheCurrentState() {
        var healthy = HealthCheckState(rise: 2, fall: 3, initiallyHealthy: true)
        for success in [false, false, true, false, false, true, false, false, true] {
            #expect(healthy.record(success: success) == nil)
        }
        #expect(healthy.isHealthy)
        #expect(healthy.consecutiveSuccesses == 1)
        #expect(healthy.consecutiveFailures == 0)

        var unhealthy = HealthCheckState(rise: 2, fall: 3, initiallyHealthy: false)
        for success in [true, false, true, false, true, false] {
            #expect(unhealthy.record(success: success) == nil)
        }
        #expect(!unhealthy.isHealthy)
        #expect(unhealthy.consecutiveFailures == 1)
        // A flap that does complete a run does transition, on exactly the completing result.
        #expect(unhealthy.record(success: true) == nil)
        #expect(unhealthy.record(success: true) == .becameHealthy)
        #expect(unhealthy.record(success: false) == nil)
        #expect(unhealthy.record(success: false) == nil)
        #expect(unhealthy.record(success: false) == .becameUnhealthy)
    }

    @Test func riseAndFallOfOneFlipOnEveryChange() {
        var state = HealthCheckState(rise: 1, fall: 1, initiallyHealthy: true)
        #expect(state.record(success: true) == nil)
        #expect(state.record(success: false) == .becameUnhealthy)
        #expect(state.record(success: false) == nil)
        #expect(state.record(success: true) == .becameHealthy)
    }
}
