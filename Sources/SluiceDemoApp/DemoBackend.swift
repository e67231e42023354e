public import Logging
public import NIOCore
import Atomics
import NIOConcurrencyHelpers
import SluiceTraffic
import NIOHTTP1
import Prometheus
public import NIOPosix
public import SluiceServer
public import SluiceWeb

/// The body of the JSON-binding benchmark row.
struct BenchUser: Codable {
    let name: String
    let age: Int
}

/// The demo backend: a SluiceWeb app with a few realistic routes and knobs to make it slow, failing or unhealthy.
/// The quick start, the tests and the benchmarks run it, as a process (`sluice-demo`) or in-process.
public final class DemoBackend: Sendable {
    /// What an instance is and how it misbehaves.
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        /// The zone label this instance reports, e.g. `az1`.
        public var zone: String
        /// The instance name it reports, e.g. `a1`.
        public var name: String
        /// Share of requests (0...1) answered 503 on purpose. `/healthz` and `/admin` are exempt.
        public var failRate: Double
        /// Latency added to every answer. `/healthz` and `/admin` are exempt.
        public var delay: TimeAmount
        /// No access log.
        public var quiet: Bool
        /// Only the benchmark's routes, with no middleware and no streaming endpoints: what Gin's `gin.New()` app
        /// of `scripts/bench-backend` serves, so the two frameworks are compared on the same work.
        public var bare = false
        /// A backend whose latency climbs with its load: with `capacity > 0`, every API answer takes
        /// `baseLatency × max(1, inflight ÷ capacity)` (`LoadLatencyModel`), so it serves at most about
        /// `capacity ÷ baseLatency` requests a second and queues beyond that. 0: off.
        public var capacity: Int
        public var baseLatency: TimeAmount

        public init(
            host: String = "127.0.0.1", port: Int = 0, zone: String = "az1", name: String = "demo",
            failRate: Double = 0, delay: TimeAmount = .zero, quiet: Bool = false, capacity: Int = 0,
            baseLatency: TimeAmount = .milliseconds(10)
        ) {
            self.capacity = capacity
            self.baseLatency = baseLatency
            self.host = host
            self.port = port
            self.zone = zone
            self.name = name
            self.failRate = failRate
            self.delay = delay
            self.quiet = quiet
        }
    }

    public let configuration: Configuration
    private let logger: Logger
    private let healthy = NIOLockedValueBox(true)
    /// Where the `Metrics` middleware of the benchmark route counts (a real Prometheus registry, not a no-op).
    let metricsRegistry = PrometheusCollectorRegistry()
    /// API requests being answered, for the load-dependent latency.
    private let inflight = ManagedAtomic(0)

    public init(configuration: Configuration, logger: Logger = Logger(label: "sluice.demo")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Whether `/healthz` answers 200 (true) or 503 (false). Also switchable with `POST /admin/healthz?state=fail`.
    public var isHealthy: Bool {
        get { healthy.withLockedValue { $0 } }
        set { healthy.withLockedValue { $0 = newValue } }
    }

    /// The benchmark's routes alone (`bare`): `/ping` sync and async, a JSON-binding POST and a route behind
    /// `RateLimit` + `Metrics`, with no engine middleware, as in Gin's `gin.New()`.
    public func makeBareEngine() throws -> Engine {
        let engine = Engine(logger: logger)
        try engine.get("/ping") { c in try c.json(.ok, Pong(message: "pong")) }
        try engine.get("/ping-async") { c async throws in try c.json(.ok, Pong(message: "pong")) }
        try addBenchRoutes(engine)
        return engine
    }

    private func addBenchRoutes(_ group: RouterGroup) throws {
        // The rows of `scripts/bench-backend` beside Gin's: JSON binding, and RateLimit + Metrics.
        try group.post("/bench/user") { c in
            let user = try c.bind(BenchUser.self)
            try c.json(.ok, user)
        }
        try group.get(
            "/bench/limited", RateLimit(RateLimitPolicy(count: 1_000_000, per: .seconds(1)), key: .global),
            Metrics(prefix: "demo", factory: PrometheusMetricsFactory(registry: metricsRegistry))
        ) { c in try c.json(.ok, Pong(message: "pong")) }
    }

    /// Builds the engine with the demo's routes.
    public func makeEngine() throws -> Engine {
        if configuration.bare { return try makeBareEngine() }
        let engine = Engine(logger: logger)
        engine.use(RequestID())
        if !configuration.quiet { engine.use(AccessLog(logger: logger)) }
        engine.use(Recovery(logger: logger))

        let instance = Instance(name: configuration.name, zone: configuration.zone)
        try engine.get("/healthz") { [self] c in
            if isHealthy {
                try c.json(.ok, Health(status: "ok", instance: instance.name, zone: instance.zone))
            } else {
                try c.json(.serviceUnavailable, Health(status: "failing", instance: instance.name, zone: instance.zone))
            }
        }
        let admin = engine.group("/admin")
        try admin.post("/healthz") { [self] c in
            switch c.query("state") {
            case "fail": isHealthy = false
            case "ok": isHealthy = true
            default:
                try c.json(.badRequest, Failure(error: "state must be ok or fail", instance: instance.name))
                return
            }
            try c.json(.ok, Health(status: isHealthy ? "ok" : "failing", instance: instance.name, zone: instance.zone))
        }
        try admin.get("/state") { [self] c in
            try c.json(
                .ok,
                State(
                    instance: instance.name, zone: instance.zone, healthy: isHealthy,
                    failRate: configuration.failRate, delayMilliseconds: configuration.delay.nanoseconds / 1_000_000))
        }

        let api = engine.group("/", Self.faults(configuration, instance, inflight: inflight))
        try api.get("/ping") { c in try c.json(.ok, Pong(message: "pong")) }
        // The same answer from an async handler (SluiceWeb's async path, for `scripts/bench-backend`).
        try api.get("/ping-async") { c async throws in try c.json(.ok, Pong(message: "pong")) }
        try api.get("/api/v1/users/:id") { c in
            let id = c.param("id") ?? ""
            try c.json(.ok, User(id: id, name: "user-\(id)", instance: instance.name, zone: instance.zone))
        }
        // Routes of different importance for the overload drill (`scripts/overload`).
        try api.get("/api/v1/feed") { c in
            try c.json(.ok, Feed(items: ["a", "b", "c"], instance: instance.name, zone: instance.zone))
        }
        try api.get("/api/v1/search") { c in
            try c.json(.ok, Feed(items: [c.query("q") ?? ""], instance: instance.name, zone: instance.zone))
        }
        try api.get("/headers") { c in
            // What this backend was sent, as a JSON object of lowercased names to values (repeats joined by ", ").
            var seen: [String: String] = [:]
            for (name, value) in c.headers {
                let key = name.lowercased()
                seen[key] = seen[key].map { "\($0), \(value)" } ?? value
            }
            try c.json(.ok, seen)
        }
        try addBenchRoutes(api)
        try api.post("/echo") { c in
            let type = c.header("content-type") ?? "application/octet-stream"
            c.data(.ok, contentType: type, c.body ?? ByteBuffer())
        }
        return engine
    }

    /// Starts serving; read the port from the returned server.
    public func start(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> HTTPServer {
        var settings = ServerConfiguration(
            host: configuration.host, port: configuration.port, maxBodySize: Int.max, serverName: nil)
        // The engine's handler checks its own heads; the demo's streaming endpoints write only fixed fields.
        settings.validateOutboundHeaders = false
        let responder = try makeEngine().makeResponder()
        let bare = configuration.bare
        let server = HTTPServer(configuration: settings, group: group, logger: logger) { channel in
            let operations = channel.pipeline.syncOperations
            if bare {
                // Right after the server's last handler, the guard: answers go to it directly.
                try operations.addHandler(responder.makeHandler(directlyAfter: operations.handler(type: RequestGuard.self)))
            } else {
                try operations.addHandler(StreamingEndpoints())
                try operations.addHandler(responder.makeHandler())
            }
        }
        try await server.start()
        return server
    }

    /// The fault knobs: `?status=503` answers that status, `?delay=50ms` delays the answer, and the instance's
    /// `failRate` and `delay` apply to every request through this middleware.
    static func faults(_ configuration: Configuration, _ instance: Instance, inflight: ManagedAtomic<Int>) -> Handler {
        { c in
            if let text = c.query("status") {
                guard let code = Int(text), (100...599).contains(code) else {
                    try c.json(.badRequest, Failure(error: "status must be 100...599", instance: instance.name))
                    c.abort()
                    return
                }
                try c.json(
                    HTTPResponseStatus(statusCode: code), Failure(error: "status \(code) asked for", instance: instance.name))
                c.abort()
            } else if configuration.failRate > 0, Double.random(in: 0..<1) < configuration.failRate {
                try c.json(.serviceUnavailable, Failure(error: "injected failure", instance: instance.name))
                c.abort()
            } else {
                try c.next()
            }
            var delay = configuration.delay
            if let text = c.query("delay") {
                guard let asked = TimeAmount(text: text), asked <= .seconds(60) else {
                    try c.json(.badRequest, Failure(error: "delay must be a duration up to 60s", instance: instance.name))
                    return
                }
                delay = asked
            }
            if configuration.capacity > 0 {
                let load = inflight.wrappingIncrementThenLoad(ordering: .relaxed)
                let model = LoadLatencyModel(
                    base: .nanoseconds(configuration.baseLatency.nanoseconds), capacity: configuration.capacity)
                delay = delay + .nanoseconds(model.latency(inflight: load).wholeNanoseconds)
                c.respondLater().finish(after: delay) { _ in inflight.wrappingDecrement(ordering: .relaxed) }
                return
            }
            if delay > .zero { c.respondLater().finish(after: delay) { _ in } }
        }
    }
}

struct Instance: Sendable {
    let name: String
    let zone: String
}

private struct Pong: Encodable { let message: String }
private struct Feed: Encodable {
    let items: [String]
    let instance: String
    let zone: String
}
private struct User: Encodable {
    let id: String
    let name: String
    let instance: String
    let zone: String
}
private struct Health: Encodable {
    let status: String
    let instance: String
    let zone: String
}
private struct Failure: Encodable {
    let error: String
    let instance: String
}
private struct State: Encodable {
    let instance: String
    let zone: String
    let healthy: Bool
    let failRate: Double
    let delayMilliseconds: Int64
}
