@testable import SluiceTraffic

/// SplitMix64 (Steele, Lea, Flood 2014): a tiny seeded generator, so that every simulation run is reproducible.
struct AdaptiveSimRandom: RandomNumberGenerator {
    var state: UInt64

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    mutating func unit() -> Double { Double(next() >> 11) * 0x1p-53 }

    /// An exponentially distributed delay with mean `1 ÷ rate`: `−ln(1 − u) ÷ rate`.
    mutating func exponential(rate: Double) -> Double { -Self.naturalLog(1 - unit()) / rate }

    /// ln(x) for x > 0 without Foundation: x = m × 2^e with m in [1, 2), ln m = 2 atanh((m − 1) ÷ (m + 1)).
    static func naturalLog(_ x: Double) -> Double {
        let m = x.significand
        let z = (m - 1) / (m + 1)
        let z2 = z * z
        var term = z
        var sum = 0.0
        for k in stride(from: 1.0, through: 41, by: 2) {
            sum += term / k
            term *= z2
        }
        return Double(x.exponent) * 0.693_147_180_559_945_3 + 2 * sum
    }
}

/// A binary min-heap of `Int` values keyed by `(key, insertion order)`: ties go to the earlier insertion, so runs are
/// deterministic. Concrete and in parallel arrays, because the simulations spend most of their time here and a
/// generic heap of tuples is slow in debug builds.
struct AdaptiveSimHeap {
    private var keys: [Double] = []
    private var orders: [Int] = []
    private var values: [Int] = []
    private var inserted = 0

    var minKey: Double? { keys.first }

    mutating func push(_ key: Double, _ value: Int) {
        keys.append(key)
        orders.append(inserted)
        values.append(value)
        inserted += 1
        var child = keys.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard less(child, parent) else { break }
            swap(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (key: Double, value: Int) {
        let top = (keys[0], values[0])
        let last = keys.count - 1
        swap(0, last)
        keys.removeLast()
        orders.removeLast()
        values.removeLast()
        var parent = 0
        while true {
            let left = 2 * parent + 1
            let right = left + 1
            var smallest = parent
            if left < keys.count && less(left, smallest) { smallest = left }
            if right < keys.count && less(right, smallest) { smallest = right }
            if smallest == parent { break }
            swap(parent, smallest)
            parent = smallest
        }
        return top
    }

    private func less(_ a: Int, _ b: Int) -> Bool {
        keys[a] < keys[b] || (keys[a] == keys[b] && orders[a] < orders[b])
    }

    private mutating func swap(_ a: Int, _ b: Int) {
        keys.swapAt(a, b)
        orders.swapAt(a, b)
        values.swapAt(a, b)
    }
}

/// A discrete-event simulation of clients, an optional `AdaptiveConcurrencyLimiter`, and a backend that follows
/// `LoadLatencyModel` exactly as processor sharing: each request needs `base × (1 ± jitter)` of work, and with `n`
/// requests in flight each one progresses at `min(1, capacity ÷ n)` of full speed. So a request alone (or with
/// fewer than `capacity` others) takes its work; past `capacity` the backend completes `capacity ÷ base` requests per
/// second whatever the load, and the latency grows with the excess.
///
/// The clock is virtual (seconds as `Double`, handed to the limiter as `Duration`); nothing sleeps.
struct AdaptiveSimulation {
    enum Load {
        /// `clients` closed-loop clients with no think time: each sends its next request as soon as the previous one
        /// is answered; a client refused by the limiter (the gateway's 503) tries again after `retryPause`.
        case closed(clients: Int, retryPause: Double)
        /// Poisson arrivals at `rate` per second; a refused request is counted and not retried.
        case open(rate: Double)
    }

    struct Result {
        /// Latency percentiles of the requests accepted and completed after the warm-up, in seconds.
        var p50: Double
        var p99: Double
        /// Accepted requests completed per second after the warm-up.
        var throughput: Double
        var completed: Int
        var rejected: Int
        /// The limiter's limit, sampled at each completion after the warm-up (0 without a limiter).
        var minLimit: Int
        var maxLimit: Int
        var meanLimit: Double
    }

    var model: LoadLatencyModel
    var load: Load
    /// nil: no limiter in front of the backend.
    var policy: AdaptiveConcurrencyPolicy?
    var jitter = 0.1
    /// Exponentially distributed work (mean `base`) instead of `base × (1 ± jitter)`: a long-tailed service.
    var exponentialWork = false
    /// From this instant on, the backend follows this model instead (a backend that slows down or scales).
    var change: (at: Double, model: LoadLatencyModel)?
    var duration = 10.0
    var warmUp = 1.0
    var seed: UInt64 = 1

    func run() -> Result {
        var random = AdaptiveSimRandom(state: seed)
        var capacity = Double(model.capacity)
        var base = model.base.secondsDouble
        var pendingChange = change
        let limiter = policy.map { AdaptiveConcurrencyLimiter(policy: $0, now: .zero, random: &random) }

        struct Job {
            var client: Int
            var start: Double
            var permit: AdaptivePermit?
        }
        var table: [Job] = []  // the jobs in flight, in recycled slots
        var freeSlots: [Int] = []
        var jobs = AdaptiveSimHeap()  // slots, keyed by the virtual time at which the job's work is done
        var attempts = AdaptiveSimHeap()  // clients (-1 for an open-loop arrival), keyed by time
        var now = 0.0
        var virtual = 0.0
        var inflight = 0
        var latencies: [Double] = []
        var rejected = 0
        var limits: (min: Int, max: Int, sum: Double, count: Int) = (.max, 0, 0, 0)

        func instant(_ seconds: Double) -> Duration { .nanoseconds(Int64((seconds * 1e9).rounded())) }
        func speed(_ n: Int) -> Double { Double(n) <= capacity ? 1 : capacity / Double(n) }

        switch load {
        case .closed(let clients, _):
            for client in 0..<clients { attempts.push(random.unit() * base, client) }
        case .open(let rate):
            attempts.push(random.exponential(rate: rate), -1)
        }

        func attempt(client: Int) {
            var permit: AdaptivePermit?
            if let limiter {
                permit = limiter.tryAcquire(now: instant(now))
                if permit == nil {
                    if now >= warmUp { rejected += 1 }
                    if case .closed(_, let pause) = load { attempts.push(now + pause, client) }
                    return
                }
            }
            if let (at, next) = pendingChange, now >= at {
                capacity = Double(next.capacity)
                base = next.base.secondsDouble
                pendingChange = nil
            }
            let work = exponentialWork ? base * random.exponential(rate: 1) : base * (1 + jitter * (2 * random.unit() - 1))
            inflight += 1
            let job = Job(client: client, start: now, permit: permit)
            if let slot = freeSlots.popLast() {
                table[slot] = job
                jobs.push(virtual + work, slot)
            } else {
                table.append(job)
                jobs.push(virtual + work, table.count - 1)
            }
        }

        while true {
            let completionAt = jobs.minKey.map { now + ($0 - virtual) / speed(inflight) } ?? .infinity
            let attemptAt = attempts.minKey ?? .infinity
            guard min(completionAt, attemptAt) <= duration else { break }
            if completionAt <= attemptAt {
                let (finish, slot) = jobs.pop()
                let job = table[slot]
                freeSlots.append(slot)
                now = completionAt
                virtual = finish
                inflight -= 1
                if let permit = job.permit, let limiter {
                    limiter.complete(permit, rtt: instant(now - job.start), now: instant(now))
                    if now >= warmUp {
                        let limit = limiter.limit
                        limits = (min(limits.min, limit), max(limits.max, limit), limits.sum + Double(limit), limits.count + 1)
                    }
                }
                if now >= warmUp { latencies.append(now - job.start) }
                if job.client >= 0 { attempt(client: job.client) }
            } else {
                let (time, client) = attempts.pop()
                virtual += (time - now) * speed(inflight)
                now = time
                if client < 0, case .open(let rate) = load {
                    attempts.push(now + random.exponential(rate: rate), -1)
                }
                attempt(client: client)
            }
        }

        latencies.sort()
        func percentile(_ p: Double) -> Double {
            latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int((p * Double(latencies.count)).rounded(.up)) - 1)]
        }
        return Result(
            p50: percentile(0.5),
            p99: percentile(0.99),
            throughput: Double(latencies.count) / (duration - warmUp),
            completed: latencies.count,
            rejected: rejected,
            minLimit: limits.count == 0 ? 0 : limits.min,
            maxLimit: limits.max,
            meanLimit: limits.count == 0 ? 0 : limits.sum / Double(limits.count)
        )
    }
}
