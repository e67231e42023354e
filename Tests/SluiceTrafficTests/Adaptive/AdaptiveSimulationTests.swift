import Testing
@testable import SluiceTraffic

/// The requirement, as a deterministic simulation (see `AdaptiveSimulation`): against a backend whose latency
/// climbs with its load (`LoadLatencyModel`, 10 ms up to 20 requests in flight, so at best 2000 requests per second),
/// the adaptive limiter holds p99 near the uncongested latency while the throughput stays within 10% of the best
/// achievable.
///
/// The bound: p99 ≤ 2 × base. The uncongested p99 is 1.1 × base (the ±10% jitter of the work); with the default
/// tolerance of 1.25 the limit settles at about `1.25 × 20 + √25 = 30` requests, so requests take about 1.5 × base,
/// 1.65 × base at p99. Holding the backend at its capacity exactly would cost throughput to noise; the
/// tolerance and the √limit headroom are the queue the limiter keeps to stay at full throughput.
@Suite struct AdaptiveSimulationTests {
    static let model = LoadLatencyModel(base: .milliseconds(10), capacity: 20)
    static let base = 0.010
    static let best = model.maxThroughput

    /// 80 closed-loop clients (4 × capacity) with no think time; a refused client retries 10 ms later. The minRTT is
    /// measured again every 2 s instead of every 60 s, so that the cost of pinning the limit is in the figure.
    @Test func limiterHoldsLatencyNearUncongestedAtNearlyFullThroughput() {
        let policy = AdaptiveConcurrencyPolicy(minRTTInterval: .seconds(2))
        let load = AdaptiveSimulation.Load.closed(clients: 80, retryPause: 0.01)
        let limited = AdaptiveSimulation(model: Self.model, load: load, policy: policy, duration: 6).run()
        let unlimited = AdaptiveSimulation(model: Self.model, load: load, policy: nil, duration: 6).run()

        #expect(limited.p99 <= 2 * Self.base)  // ≈ 1.68 × base
        #expect(limited.throughput >= 0.9 * Self.best)  // ≈ 96%, pinned for the minRTT twice in the run
        #expect(limited.meanLimit >= 25 && limited.meanLimit <= 35)
        // Without the limiter the backend is as busy (processor sharing keeps its throughput) but every request
        // waits behind the 79 others: 4 × base, 4.4 × base at p99.
        #expect(unlimited.p99 >= 4 * Self.base)
        #expect(unlimited.throughput >= 0.99 * Self.best)
    }

    /// Without the limiter p99 grows in proportion to the clients; with it, it does not move.
    @Test func latencyGrowsWithClientsOnlyWithoutTheLimiter() {
        var unlimited: [Double] = []
        for clients in [40, 80, 160] {
            let run = AdaptiveSimulation(
                model: Self.model, load: .closed(clients: clients, retryPause: 0.01), policy: nil, duration: 3
            ).run()
            unlimited.append(run.p99)
            #expect(run.p99 >= 0.95 * Double(clients) / 20 * Self.base)  // base × clients ÷ capacity, +10% jitter
        }
        #expect(unlimited[2] >= 3.5 * unlimited[0])

        for clients in [40, 160] {
            let run = AdaptiveSimulation(
                model: Self.model, load: .closed(clients: clients, retryPause: 0.01), policy: .init(), duration: 3
            ).run()
            #expect(run.p99 <= 2 * Self.base)
            #expect(run.throughput >= 0.9 * Self.best)
        }
    }

    /// Open-loop Poisson arrivals at 1.5 × capacity, refused requests not retried: without the limiter the backlog
    /// grows without end (and processor sharing spreads the work so thinly that goodput falls too); with it, a third
    /// is refused and the rest is served at near-uncongested latency.
    @Test func openLoopOverload() {
        let load = AdaptiveSimulation.Load.open(rate: 1.5 * Self.best)
        let limited = AdaptiveSimulation(model: Self.model, load: load, policy: .init(), duration: 5).run()
        let unlimited = AdaptiveSimulation(model: Self.model, load: load, policy: nil, duration: 5).run()

        #expect(limited.p99 <= 2 * Self.base)
        #expect(limited.throughput >= 0.9 * Self.best)
        let refused = Double(limited.rejected) / (1.5 * Self.best * 4)
        #expect(refused > 0.3 && refused < 0.4)
        #expect(unlimited.p99 >= 20 * Self.base)
        #expect(unlimited.throughput < 0.8 * Self.best)
    }

    /// The backend becomes twice as slow for good at 2 s (a bad deploy: 20 ms at any load up to capacity). Every
    /// sample is then 2 × the old minRTT, the limit collapses, and the collapse triggers a new minRTT measurement
    /// long before the periodic one (60 s): from 4 s on, the throughput is the new best again.
    @Test func followsABackendThatGetsSlower() {
        let slower = LoadLatencyModel(base: .milliseconds(20), capacity: 20)
        var simulation = AdaptiveSimulation(
            model: Self.model, load: .closed(clients: 80, retryPause: 0.01), policy: .init(), duration: 8, warmUp: 4
        )
        simulation.change = (2, slower)
        let run = simulation.run()

        #expect(run.throughput >= 0.9 * slower.maxThroughput)
        #expect(run.p99 <= 2 * slower.base.secondsDouble)
        #expect(run.minLimit >= 20)
    }
}
