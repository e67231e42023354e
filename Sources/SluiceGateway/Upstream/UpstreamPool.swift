import Atomics
import Logging
import NIOConcurrencyHelpers
import NIOCore
import SluiceConfig
import SluiceTraffic

/// One upstream server and its connection pools, one per event loop.
final class UpstreamServer: Sendable {
    let target: UpstreamTarget
    let zone: String?
    let weight: Int
    let settings: PoolSettings
    /// Healthy unless active checks, the outlier detector or failed connects say otherwise.
    let health: ServerHealth
    /// Where it being taken out of rotation and coming back are logged.
    let events: ThrottledLogger
    private let checker: HealthChecker?
    private let pools: LoopLocal<ConnectionPool>
    /// Connections and answers over every loop's pool, for metrics and `/status`.
    let load = ServerLoad()

    init(
        target: UpstreamTarget, zone: String?, weight: Int, settings: PoolSettings, group: any EventLoopGroup,
        healthCheck: HealthCheckConfig? = nil, logger: Logger = Logger(label: "sluice.health"),
        events: ThrottledLogger? = nil
    ) {
        self.target = target
        self.zone = zone
        self.weight = weight
        self.settings = settings
        self.events = events ?? ThrottledLogger(logger: logger, eventLoop: nil)
        var localOrigin = LocalOriginFailures.Settings()
        localOrigin.maxFails = settings.maxFails
        localOrigin.backoff = settings.failTimeout
        localOrigin.maxBackoff = max(settings.failTimeout * 30, .seconds(30))
        localOrigin.activeChecks = healthCheck != nil
        self.health = ServerHealth(localOrigin: localOrigin)
        let load = self.load
        self.pools = LoopLocal(group: group) { loop in
            ConnectionPool(eventLoop: loop, target: target, settings: settings, load: load)
        }
        let health = self.health
        self.checker = healthCheck.map {
            HealthChecker(
                target: target, config: $0, health: health, eventLoop: group.next(), logger: logger, tls: settings.tls)
        }
        checker?.start()
    }

    /// The gateway could not reach the server (connect refused or timed out, or a fresh connection closed before
    /// any answer): out of rotation at once, on every loop, when that makes `max_fails`.
    func recordLocalFailure(_ reason: String) {
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        load.localFailures.wrappingIncrement(ordering: .relaxed)
        guard case .out(let until) = health.recordLocalFailure(now: now) else { return }
        let back = until.map { "in \($0 - .nanoseconds(now))" } ?? "when a health check passes"
        events.log(
            .warning, "upstream server unreachable, out of rotation", subject: "server", value: target.description,
            metadata: ["error": "\(reason)", "back": "\(back)"])
    }

    /// The server answered: it is reachable. (Every answer comes here: without a failure on record, nothing is
    /// done, not even reading the clock.)
    func recordAnswer() {
        guard health.hasLocalFailures,
            health.recordAnswer(now: Int64(NIODeadline.now().uptimeNanoseconds)) == .back
        else { return }
        events.log(.notice, "upstream server reachable again", subject: "server", value: target.description)
    }

    /// The pool for `eventLoop`. Call on that loop.
    func pool(on eventLoop: any EventLoop) -> ConnectionPool { pools.value(on: eventLoop) }

    /// Whether its health checker still runs (false once closed).
    var isChecking: Bool { checker?.isRunning ?? false }

    /// Retires every pool: idle connections close now, busy ones after their exchange.
    func close() {
        checker?.stop()
        let pools = self.pools
        // Each pool is closed on its own loop (it may be called from any thread).
        pools.forEach { loop, _ in loop.execute { pools.value(on: loop).close() } }
    }
}

/// An upstream: its servers and the choice between them.
///
/// Choosing a server for a request: first which servers are eligible (healthy primaries not yet tried for this
/// request; else healthy backups; below the panic threshold, or when none is healthy, every server: better to try
/// than to refuse), then the balancer picks among them. Balancer state is kept per event loop, like nginx keeps it
/// per worker, so picking needs no lock.
final class UpstreamPool: Sendable {
    let name: String
    /// The primaries, then the `backup` servers.
    let servers: [UpstreamServer]
    let primaryCount: Int
    let algorithm: BalanceAlgorithm
    /// With fewer healthy servers than this share, all servers are eligible (Envoy's panic mode).
    let panicThreshold: Double
    /// What `balance = hash` hashes.
    let hashKey: HashKey
    /// Passive ejection, when configured.
    let outlier: OutlierTracker?
    /// Zone-aware routing, when the gateway has a zone and the primaries have zones.
    let zoneRouting: ZoneRouting?
    /// The primaries' zones, for `zoneRouting`.
    let primaryZones: [String?]
    /// Requests and retries in flight to this upstream, from every event loop, for the retry budget.
    let activeRequests = ManagedAtomic(0)
    let activeRetries = ManagedAtomic(0)
    let retryBudget: RetryBudget
    /// How long a server that became available again takes to reach its full share (round robin only).
    let slowStart: Duration
    /// Breaker, hard limits and adaptive concurrency; nil when the upstream has none.
    let traffic: UpstreamTraffic?
    /// Upstream durations by zone, retries, budget refusals; nil without a metrics registry (some tests).
    let metrics: UpstreamMetrics?
    private let balancers: LoopLocal<LoopBalancer>

    init(
        name: String, servers: [UpstreamServer], backups: [UpstreamServer] = [], algorithm: BalanceAlgorithm = .roundRobin,
        panicThreshold: Double = 0.5, hashKey: HashKey = .clientIP, outlier: OutlierTracker? = nil,
        zoneRouting: ZoneRouting? = nil, retryBudget: RetryBudget = RetryBudget(), slowStart: Duration = .zero,
        traffic: UpstreamTraffic? = nil, metrics: UpstreamMetrics? = nil, group: any EventLoopGroup
    ) {
        self.traffic = traffic
        self.metrics = metrics
        self.slowStart = slowStart
        self.retryBudget = retryBudget
        self.hashKey = hashKey
        self.outlier = outlier
        self.primaryZones = (servers.isEmpty ? backups : servers).map(\.zone)
        self.zoneRouting = primaryZones.contains { $0 != nil } ? zoneRouting : nil
        // No servers at all (a DNS name not resolved yet, a route that answers itself): `pick` finds none.
        self.name = name
        let all = servers + backups
        self.servers = all
        self.primaryCount = servers.isEmpty ? backups.count : servers.count
        self.algorithm = algorithm
        self.panicThreshold = panicThreshold
        self.balancers = LoopLocal(group: group) { _ in LoopBalancer(servers: all) }
    }

    /// Reports how a request to `server` went, for outlier ejection.
    func record(_ server: UpstreamServer, _ outcome: OutlierDetector.Outcome) {
        // A server that active checks already hold down only gets traffic in panic mode; its failures say nothing
        // new and must not stretch an ejection past its recovery.
        guard let outlier, server.health.isHealthy, let index = servers.firstIndex(where: { $0 === server }) else {
            return
        }
        outlier.record(server: index, of: servers, outcome: outcome)
    }

    /// Whether one more retry fits in the budget now.
    func allowsRetry() -> Bool {
        let allowed = retryBudget.allowsRetry(
            activeRequests: activeRequests.load(ordering: .relaxed), activeRetries: activeRetries.load(ordering: .relaxed))
        if !allowed { metrics?.budgetRefusals.increment() }
        return allowed
    }

    /// Connections open and idle, and requests waiting for one, over every server's pools.
    var connectionTotals: (open: Int, idle: Int, pending: Int) {
        servers.reduce((0, 0, 0)) { total, server in
            (total.0 + server.load.open.load(ordering: .relaxed), total.1 + server.load.idle.load(ordering: .relaxed),
             total.2 + server.load.pending.load(ordering: .relaxed))
        }
    }

    /// Whether `pick` wants a hash of the request (consistent hashing).
    var wantsHash: Bool { algorithm == .hash }

    /// Picks a server for a request, not one of `tried`. `hash` is the request's hash key, for `balance = hash`.
    /// Call on `eventLoop`.
    func pick(on eventLoop: any EventLoop, excluding tried: [UpstreamServer], hash: UInt64? = nil) -> UpstreamServer? {
        let balancer = balancers.value(on: eventLoop)
        guard balancer.fillEligible(self, tried: tried) else { return nil }
        let index: Int?
        switch algorithm {
        case .roundRobin where slowStart > .zero:
            // Slow start: a server that just came back gets a weight that ramps up over `slowStart`.
            let now = Duration.nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds))
            for (position, server) in servers.enumerated() {
                let since = server.health.availableSince
                balancer.scales[position] = since == 0
                    ? 1 : SlowStart().scale(since: .nanoseconds(since), now: now, window: slowStart)
            }
            index = balancer.roundRobin.pick(eligible: balancer.eligible, scale: balancer.scales)
        case .roundRobin:
            index = balancer.roundRobin.pick(eligible: balancer.eligible)
        case .leastRequest:
            for (position, server) in servers.enumerated() {
                balancer.active[position] = server.pool(on: eventLoop).busyCount
            }
            index = balancer.leastRequest.pick(
                active: balancer.active, weights: balancer.weights, eligible: balancer.eligible, using: &balancer.random)
        case .random:
            index = balancer.weightedRandom.pick(eligible: balancer.eligible, using: &balancer.random)
        case .hash:
            if let hash {
                index = balancer.maglev(eligible: balancer.eligible, servers: servers).lookup(hash: hash)
            } else {
                index = balancer.weightedRandom.pick(eligible: balancer.eligible, using: &balancer.random)
            }
        }
        return index.map { servers[$0] }
    }
}

/// One event loop's balancing state for one upstream. Loop-confined.
private final class LoopBalancer: @unchecked Sendable {
    let weights: [Int]
    var eligible: [Bool]
    var available: [Bool]
    var active: [Int]
    var scales: [Double]
    var roundRobin: SmoothWeightedRoundRobin
    let leastRequest = LeastRequestBalancer()
    let weightedRandom: RandomBalancer
    var random: SplitMix64Generator
    private var table: (eligible: [Bool], table: MaglevTable)?

    init(servers: [UpstreamServer]) {
        weights = servers.map { max($0.weight, 1) }
        eligible = Array(repeating: false, count: servers.count)
        available = Array(repeating: false, count: servers.count)
        scales = Array(repeating: 1, count: servers.count)
        active = Array(repeating: 0, count: servers.count)
        roundRobin = SmoothWeightedRoundRobin(weights: weights)
        weightedRandom = RandomBalancer(weights: weights)
        var system = SystemRandomNumberGenerator()
        random = SplitMix64Generator(state: system.next())
    }

    /// Fills `eligible` for a request; false when no server can be tried at all.
    func fillEligible(_ pool: UpstreamPool, tried: [UpstreamServer]) -> Bool {
        let servers = pool.servers
        let primaries = pool.primaryCount
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        func untried(_ index: Int) -> Bool { !tried.contains { $0 === servers[index] } }
        var availablePrimaries = 0
        for index in servers.indices {
            available[index] = servers[index].health.isAvailable(now: now)
            if index < primaries && available[index] { availablePrimaries += 1 }
        }
        let panic = Double(availablePrimaries) < pool.panicThreshold * Double(primaries)
        var any = false
        if !panic && !tried.isEmpty && pool.zoneRouting != nil {
            // A retry: prefer a healthy server in a zone that has not failed this request yet.
            for index in servers.indices {
                let zone = servers[index].zone
                eligible[index] = index < primaries && available[index] && untried(index)
                    && !tried.contains { $0.zone == zone }
                any = any || eligible[index]
            }
            if any { return true }
        }
        if !panic {
            if let routing = pool.zoneRouting {
                // Zone-aware: the plan says which zone(s) this request may use (Envoy's rules).
                let plan = routing.plan(zones: pool.primaryZones, healthy: Array(available[..<primaries]))
                let chosen = routing.choose(plan, serverCount: primaries, using: &random)
                for index in servers.indices {
                    eligible[index] = index < primaries && chosen[index] && available[index] && untried(index)
                    any = any || eligible[index]
                }
                if any { return true }
            }
            for index in servers.indices {
                eligible[index] = index < primaries && available[index] && untried(index)
                any = any || eligible[index]
            }
            if any { return true }
            for index in servers.indices {
                eligible[index] = index >= primaries && available[index] && untried(index)
                any = any || eligible[index]
            }
            if any { return true }
        }
        if panic && !tried.isEmpty {
            // A retry in panic mode: a server known to be up first, if one is left untried.
            for index in servers.indices {
                eligible[index] = available[index] && untried(index)
                any = any || eligible[index]
            }
            if any { return true }
        }
        // Panic, or nothing healthy left to try: every server not yet tried, healthy or not; but while any other
        // is left, not one the gateway itself just failed to reach (a refused connect is no opinion to doubt).
        for index in servers.indices {
            eligible[index] = untried(index) && !servers[index].health.isUnreachable(now: now)
                && !servers[index].health.isDrained
            any = any || eligible[index]
        }
        if any { return true }
        for index in servers.indices {
            eligible[index] = untried(index) && !servers[index].health.isDrained  // drained by hand: never
            any = any || eligible[index]
        }
        return any
    }

    /// The Maglev table over the eligible servers, rebuilt only when that set changes.
    func maglev(eligible: [Bool], servers: [UpstreamServer]) -> MaglevTable {
        if let table, table.eligible == eligible { return table.table }
        let built = MaglevTable(
            backends: servers.map { (name: $0.target.description, weight: $0.weight) }, eligible: eligible)
        table = (eligible, built)
        return built
    }
}

/// One value per event loop of a group, made up front so lookups need no lock. Each value must only be used on
/// its own loop; that is what makes sharing the container safe.
struct LoopLocal<Value>: @unchecked Sendable {
    private let values: [ObjectIdentifier: Value]
    private let loops: [any EventLoop]

    init(group: any EventLoopGroup, make: (any EventLoop) -> Value) {
        var values: [ObjectIdentifier: Value] = [:]
        var loops: [any EventLoop] = []
        for loop in group.makeIterator() {
            values[ObjectIdentifier(loop)] = make(loop)
            loops.append(loop)
        }
        self.values = values
        self.loops = loops
    }

    func value(on eventLoop: any EventLoop) -> Value {
        guard let value = values[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("event loop \(eventLoop) is not in this gateway's group")
        }
        return value
    }

    func forEach(_ body: (any EventLoop, Value) -> Void) {
        for loop in loops { body(loop, values[ObjectIdentifier(loop)]!) }
    }
}
