@testable import SluiceTraffic

/// A discrete-event simulation of `SystemProtection` in front of a processor-sharing backend (the model of
/// `AdaptiveSimulation`): Poisson arrivals whose priority is drawn from `mix`, at `rate(t)` per second; refused
/// requests are counted, not retried. The clock is virtual.
struct ProtectionSimulation {
    struct Result {
        var offered: [RoutePriority: Int] = [:]
        var shed: [RoutePriority: Int] = [:]
        /// Latency percentiles (seconds) and throughput of the requests completed after the warm-up.
        var p50 = 0.0
        var p99 = 0.0
        var throughput = 0.0
        var maxInflight = 0

        func shedShare(_ priority: RoutePriority) -> Double {
            Double(shed[priority, default: 0]) / Double(max(offered[priority, default: 0], 1))
        }
    }

    var model: LoadLatencyModel
    var policy: SystemProtectionPolicy
    /// Arrivals per second at each instant (piecewise constant: sampled at every arrival).
    var rate: @Sendable (Double) -> Double
    /// Shares of optional, normal and core arrivals.
    var mix: (optional: Double, normal: Double) = (0.4, 0.4)
    var jitter = 0.1
    var duration = 10.0
    var warmUp = 1.0
    var seed: UInt64 = 7

    func run() -> Result {
        var random = AdaptiveSimRandom(state: seed)
        let protection = SystemProtection(policy: policy)
        let capacity = Double(model.capacity)
        let base = model.base.secondsDouble
        var starts: [Double] = []  // by request number
        var jobs = AdaptiveSimHeap()  // request numbers, keyed by the virtual time at which their work is done
        var now = 0.0
        var virtual = 0.0
        var inflight = 0
        var nextArrival = random.exponential(rate: rate(0))
        var latencies: [Double] = []
        var result = Result()

        func instant(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }
        func speed(_ n: Int) -> Double { Double(n) <= capacity ? 1 : capacity / Double(n) }

        while true {
            let completionAt = jobs.minKey.map { now + ($0 - virtual) / speed(inflight) } ?? .infinity
            guard min(completionAt, nextArrival) <= duration else { break }
            if completionAt <= nextArrival {
                let (finish, request) = jobs.pop()
                let start = starts[request]
                now = completionAt
                virtual = finish
                inflight -= 1
                protection.complete(rtt: instant(now - start), now: instant(now))
                if now >= warmUp { latencies.append(now - start) }
            } else {
                virtual += (nextArrival - now) * speed(inflight)
                now = nextArrival
                nextArrival = now + random.exponential(rate: rate(now))
                let draw = random.unit()
                let priority: RoutePriority =
                    draw < mix.optional ? .optional : draw < mix.optional + mix.normal ? .normal : .core
                let counted = now >= warmUp
                if counted { result.offered[priority, default: 0] += 1 }
                guard protection.admit(priority: priority, now: instant(now)) else {
                    if counted { result.shed[priority, default: 0] += 1 }
                    continue
                }
                inflight += 1
                if counted { result.maxInflight = max(result.maxInflight, inflight) }
                starts.append(now)
                jobs.push(virtual + base * (1 + jitter * (2 * random.unit() - 1)), starts.count - 1)
            }
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int((p * Double(latencies.count)).rounded(.up)) - 1)]
        }
        result.p50 = percentile(0.5)
        result.p99 = percentile(0.99)
        result.throughput = Double(latencies.count) / (duration - warmUp)
        return result
    }
}
