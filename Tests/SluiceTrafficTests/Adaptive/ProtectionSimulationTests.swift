import Testing
@testable import SluiceTraffic

/// `SystemProtection` in front of the processor-sharing backend of `AdaptiveSimulation` (10 ms up to 20 in flight,
/// at best 2000 requests per second), with Poisson arrivals that are 40% optional, 40% normal and 20% core.
@Suite struct ProtectionSimulationTests {
    static let model = LoadLatencyModel(base: .milliseconds(10), capacity: 20)
    static let base = 0.010
    static let best = model.maxThroughput

    /// At 70% of capacity the latency stays at the uncongested one and nothing is shed, although the in-flight count
    /// crosses 80% of the estimate all the time (the latency gate at work).
    @Test func healthyLoadIsNeverShed() {
        let run = ProtectionSimulation(model: Self.model, policy: .init(), rate: { _ in 0.7 * Self.best }, duration: 6)
            .run()
        #expect(run.shed.values.reduce(0, +) == 0)
        #expect(run.throughput >= 0.65 * Self.best)
    }

    /// At 60% of capacity until 3 s, then 3 × capacity (measured from 4 s): the protection keeps the backend at its
    /// capacity, at near-uncongested latency, by shedding optional requests first, normal ones next, core never.
    /// Unprotected, the backlog grows without end and processor sharing lets almost nothing finish.
    @Test func overloadShedsLowestPriorityFirstAndHoldsLatency() {
        let rate: @Sendable (Double) -> Double = { $0 < 3 ? 0.6 * Self.best : 3 * Self.best }
        var protected = ProtectionSimulation(model: Self.model, policy: .init(), rate: rate, duration: 8)
        protected.warmUp = 4
        var unprotected = protected
        unprotected.policy = .init(adaptive: false)
        let run = protected.run()
        let baseline = unprotected.run()

        #expect(run.shedShare(.core) == 0)
        #expect(run.shedShare(.optional) > 0.95)  // ≈ 99.7%
        #expect(run.shedShare(.normal) > 0.5 && run.shedShare(.normal) < 0.8)  // ≈ 66%
        #expect(run.throughput >= 0.95 * Self.best)
        #expect(run.p99 <= 3 * Self.base)  // ≈ 2.3 × base
        #expect(baseline.p99 >= 100 * Self.base)
        #expect(baseline.throughput < 0.5 * Self.best)
    }

    /// The run of `overloadShedsLowestPriorityFirstAndHoldsLatency` (same seed, so the same events) until 6 s, where
    /// shedding is on; then the load falls to half the capacity: from 7.5 s nothing is shed.
    @Test func sheddingEndsWithTheOverload() {
        let rate: @Sendable (Double) -> Double = { $0 < 3 ? 0.6 * Self.best : $0 < 6 ? 3 * Self.best : 0.5 * Self.best }
        var simulation = ProtectionSimulation(model: Self.model, policy: .init(), rate: rate, duration: 10)
        simulation.warmUp = 7.5
        let run = simulation.run()
        #expect(run.shed.values.reduce(0, +) == 0)
        #expect(run.offered.values.reduce(0, +) > 2000)
    }
}
