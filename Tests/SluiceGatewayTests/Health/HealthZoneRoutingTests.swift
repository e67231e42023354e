import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Zone-aware routing: local while the local zone has its share, spill with the exact probability, panic.
@Suite struct HealthZoneRoutingTests {
    /// Three zones of two servers each; the gateway is in `a`.
    private let zones: [String?] = ["a", "a", "b", "b", "c", "c"]
    private let routing = ZoneRouting(localZone: "a", zoneMinSize: 2, panicThreshold: 0.5)

    @Test func allHealthyStaysLocal() {
        #expect(routing.plan(zones: zones, healthy: allUp) == .local([0, 1]))
    }

    @Test func localZoneHalfDownSpillsWithTheExactProbability() {
        // L = 1, H = 5, Z = 3: local share 1/5 < 1/3, p = 1 × 3 / 5.
        let plan = routing.plan(zones: zones, healthy: [false, true, true, true, true, true])
        #expect(plan == .spill(local: [1], localProbability: 0.6, remote: [2, 3, 4, 5]))
        // Two zones, one local server down: L = 1, H = 3, Z = 2, p = 2/3.
        let two = routing.plan(zones: ["a", "a", "b", "b"], healthy: [true, false, true, true])
        #expect(two == .spill(local: [0], localProbability: 2.0 / 3.0, remote: [2, 3]))
    }

    @Test func aLocalZoneAtItsShareStaysLocal() {
        // Zone b is down: L = 2, H = 4, Z = 3; 2/4 ≥ 1/3.
        #expect(routing.plan(zones: zones, healthy: [true, true, false, false, true, true]) == .local([0, 1]))
        // Exactly at the share: L = 1, H = 3, Z = 3.
        let plan = routing.plan(zones: zones, healthy: [true, false, true, false, true, false])
        #expect(plan == .local([0]))
    }

    @Test func wholeLocalZoneDownGoesAllRemote() {
        let plan = routing.plan(zones: zones, healthy: [false, false, true, true, true, true])
        #expect(plan == .spill(local: [], localProbability: 0, remote: [2, 3, 4, 5]))
        var rng = SplitMix64(state: 7)
        for _ in 0..<1_000 {
            #expect(routing.choose(plan, serverCount: 6, using: &rng) == [false, false, true, true, true, true])
        }
    }

    private let allUp = Array(repeating: true, count: 6)
    private let allDown = Array(repeating: false, count: 6)

    @Test func zoneMinSizeDisablesThePreference() {
        let strict = ZoneRouting(localZone: "a", zoneMinSize: 3, panicThreshold: 0.5)
        #expect(strict.plan(zones: zones, healthy: allUp) == .all([0, 1, 2, 3, 4, 5], panic: false))
        let oneDown = strict.plan(zones: zones, healthy: [false, true, true, true, true, true])
        #expect(oneDown == .all([1, 2, 3, 4, 5], panic: false))
        // No local zone, or a local zone with no servers: no preference either.
        let nowhere = ZoneRouting(localZone: nil)
        #expect(nowhere.plan(zones: zones, healthy: allUp) == .all([0, 1, 2, 3, 4, 5], panic: false))
        let elsewhere = ZoneRouting(localZone: "z")
        let elsewherePlan = elsewhere.plan(zones: zones, healthy: [true, true, true, false, true, true])
        #expect(elsewherePlan == .all([0, 1, 2, 4, 5], panic: false))
    }

    @Test func panicEngagesBelowTheThresholdAndReleasesAbove() {
        // 3 of 6 healthy is exactly 50%: not panic (Envoy panics strictly below).
        let half = routing.plan(zones: zones, healthy: [false, false, true, true, true, false])
        #expect(half == .spill(local: [], localProbability: 0, remote: [2, 3, 4]))
        // 2 of 6: panic, every server.
        let panic = routing.plan(zones: zones, healthy: [false, false, true, false, true, false])
        #expect(panic == .all([0, 1, 2, 3, 4, 5], panic: true))
        var rng = SplitMix64(state: 1)
        #expect(routing.choose(panic, serverCount: 6, using: &rng) == Array(repeating: true, count: 6))
        // None healthy: panic too.
        #expect(routing.plan(zones: zones, healthy: allDown) == .all([0, 1, 2, 3, 4, 5], panic: true))
        // Back to 4 of 6: released.
        #expect(routing.plan(zones: zones, healthy: [true, true, true, false, true, false]) == .local([0, 1]))
        // A threshold of 0 never panics.
        let never = ZoneRouting(localZone: "a", zoneMinSize: 2, panicThreshold: 0)
        #expect(never.plan(zones: zones, healthy: allDown) == .all([], panic: false))
    }

    @Test func serversWithoutAZoneAreRemoteAndNotAZone() {
        // Z = 2 (a, b); L = 1, H = 4: p = 2/4.
        let plan = routing.plan(zones: ["a", "a", "b", nil, nil], healthy: [true, false, true, true, true])
        #expect(plan == .spill(local: [0], localProbability: 0.5, remote: [2, 3, 4]))
    }

    @Test func chooseSpillsWithTheGivenProbability() {
        let plan = ZonePlan.spill(local: [1], localProbability: 0.6, remote: [2, 3, 4, 5])
        let localMask = [false, true, false, false, false, false]
        let remoteMask = [false, false, true, true, true, true]
        var rng = SplitMix64(state: 2024)
        var local = 0
        let draws = 20_000
        for _ in 0..<draws {
            let mask = routing.choose(plan, serverCount: 6, using: &rng)
            #expect(mask == localMask || mask == remoteMask)
            if mask == localMask { local += 1 }
        }
        // 0.6 ± 0.02: more than 5 standard deviations (0.0035) either side.
        #expect((11_600...12_400).contains(local))
        #expect(routing.choose(.local([0, 1]), serverCount: 6, using: &rng) == [true, true, false, false, false, false])
    }
}
