import Logging
import NIOCore
import NIOPosix
import SluiceDemoApp
import SluiceRouter
import SluiceServer
import SluiceTestSupport
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

@testable import SluiceGateway

/// A gateway built by hand (no config file) in front of the given backends, for testing the proxy path itself.
final class TestGateway {
    let server: HTTPServer
    let shared: ProxyContext
    let upstream: UpstreamPool
    var port: Int { server.port! }
    var stats: GatewayStats { shared.stats }

    init(
        backends: [Int], timeout: TimeAmount = .seconds(5), idleTimeout: TimeAmount = .seconds(5), retries: Int = 1,
        settings: PoolSettings = PoolSettings(), hostRewrite: String? = nil,
        group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, metrics: GatewayMetrics? = nil
    ) async throws {
        let servers = backends.map {
            UpstreamServer(target: UpstreamTarget(host: "127.0.0.1", port: $0), zone: nil, weight: 1, settings: settings, group: group)
        }
        let upstream = UpstreamPool(
            name: "demo", servers: servers,
            metrics: metrics.map { UpstreamMetrics(upstream: "demo", zones: [nil], registry: $0.registry) }, group: group)
        self.upstream = upstream
        var builder = RouterBuilder<ProxyRoute>()
        var route = ProxyRoute(
            name: "all", pattern: "/*", upstream: upstream, timeout: timeout, idleTimeout: idleTimeout, retries: retries,
            hostRewrite: hostRewrite)
        route.metrics = metrics.map { RouteMetrics(name: "all", hasRateLimits: false, registry: $0.registry) }
        try builder.add(nil, "/*", route)
        var only = RouterBuilder<ProxyRoute>()
        try only.add("GET", "/only-get", route)
        let table = RouteTable(
            exact: ["only.example": only.build(options: RouterOptions(redirectTrailingSlash: false))], wildcards: [],
            fallback: builder.build(options: RouterOptions(redirectTrailingSlash: false)))
        let state = RuntimeState(routes: table, upstreams: ["demo": upstream], generation: 1)
        var logger = Logger(label: "test.gateway")
        logger.logLevel = .critical
        let shared = ProxyContext(state: state, stats: GatewayStats(), logger: logger, accessLog: nil, metrics: metrics)
        self.shared = shared
        server = HTTPServer(configuration: ServerConfiguration(maxBodySize: Int.max), group: group, logger: logger) { channel in
            try channel.pipeline.syncOperations.addHandler(ProxyHandler(shared: shared))
        }
        try await server.start()
    }

    func stop() async { await server.shutdown(gracePeriod: .seconds(1)) }
}

/// Demo backends on ephemeral ports.
func startBackends(_ names: [String], zone: String = "az1") async throws -> [(backend: DemoBackend, server: HTTPServer)] {
    var started: [(DemoBackend, HTTPServer)] = []
    for name in names {
        let backend = DemoBackend(configuration: .init(zone: zone, name: name, quiet: true))
        started.append((backend, try await backend.start()))
    }
    return started
}

/// A port nothing listens on (bound once, then closed).
func deadPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).bind(host: "127.0.0.1", port: 0).get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}

@Suite struct ProxyTests {
    @Test func forwardsRequestsAndRewritesHeaders() async throws {
        let backends = try await startBackends(["a1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! })
        let response = try await TestHTTP.request(
            port: gateway.port, "GET", "/api/v1/users/7",
            headers: [("X-Forwarded-For", "10.0.0.9"), ("Connection", "keep-alive, X-Secret"), ("X-Secret", "s"), ("X-Request-Id", "rid-1")])
        #expect(response.status == 200)
        #expect(response.text.contains(#""instance":"a1""#))
        #expect(response.header("via") == "1.1 sluice")
        #expect(response.header("x-request-id") == "rid-1", "the backend echoes the id it was sent")
        #expect(gateway.stats.requests.load(ordering: .relaxed) == 1)
        #expect(gateway.stats.upstreamResponses.load(ordering: .relaxed) == 1)

        // What the upstream was sent.
        let echoed = try await TestHTTP.request(
            port: gateway.port, "GET", "/headers",
            headers: [("Host", "api.example"), ("X-Forwarded-For", "10.0.0.9"), ("Connection", "keep-alive, X-Secret"),
                      ("X-Secret", "s"), ("Keep-Alive", "timeout=5"), ("Proxy-Authorization", "p"), ("TE", "trailers")])
        let seen = try JSONDecoder().decode([String: String].self, from: Data(echoed.body))
        #expect(seen["x-forwarded-for"] == "127.0.0.1", "an untrusted peer's own X-Forwarded-For is replaced")
        #expect(seen["x-real-ip"] == "127.0.0.1")
        #expect(seen["forwarded"] == #"for=127.0.0.1;host="api.example";proto=http"#)
        #expect(seen["x-forwarded-proto"] == "http")
        #expect(seen["x-forwarded-host"] == "api.example")
        #expect(seen["host"] == "api.example")
        #expect(seen["via"] == "1.1 sluice")
        #expect(seen["x-request-id"]?.utf8.count == 32, "made by the gateway")
        for hop in ["x-secret", "keep-alive", "proxy-authorization", "te", "connection"] {
            #expect(seen[hop] == nil, "\(hop) is hop-by-hop and must not reach the upstream")
        }
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func postBodiesArePassedThrough() async throws {
        let backends = try await startBackends(["a1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! })
        let body = String(repeating: "0123456789", count: 10_000)
        let response = try await TestHTTP.request(port: gateway.port, "POST", "/echo", headers: [("Content-Type", "text/x-test")], body: body)
        #expect(response.status == 200)
        #expect(response.text == body)
        #expect(response.header("content-type") == "text/x-test")
        let socket = try TestSocket(port: gateway.port)
        try await socket.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n")
        #expect(try await socket.readResponse().text == "hello world")
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func keepAliveConnectionsToTheUpstreamAreReused() async throws {
        let backends = try await startBackends(["a1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! })
        let socket = try TestSocket(port: gateway.port)
        for index in 0..<50 {
            try await socket.send("GET /api/v1/users/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().status == 200)
        }
        #expect(backends[0].server.connectionCount == 1, "one pooled upstream connection served all 50 requests")
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func roundRobinSpreadsRequests() async throws {
        let backends = try await startBackends(["a1", "a2"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! })
        var seen: [String: Int] = [:]
        let socket = try TestSocket(port: gateway.port)
        for _ in 0..<20 {
            try await socket.send("GET /api/v1/users/1 HTTP/1.1\r\nHost: x\r\n\r\n")
            let text = try await socket.readResponse().text
            let name = text.contains(#""instance":"a1""#) ? "a1" : "a2"
            seen[name, default: 0] += 1
        }
        #expect(seen["a1"] == 10 && seen["a2"] == 10, "\(seen)")
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func unknownRouteIs404AndWrongMethodIs405() async throws {
        let backends = try await startBackends(["a1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! })
        let wrong = try await TestHTTP.request(port: gateway.port, "POST", "/only-get", headers: [("Host", "only.example:8080")])
        #expect(wrong.status == 405)
        #expect(wrong.header("allow") == "GET")
        let missing = try await TestHTTP.request(port: gateway.port, "GET", "/elsewhere", headers: [("Host", "ONLY.example")])
        #expect(missing.status == 404)
        #expect(gateway.stats.notFound.load(ordering: .relaxed) == 1)
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func connectFailureIsRetriedOnAnotherServer() async throws {
        let backends = try await startBackends(["a1"])
        let dead = try await deadPort()
        let gateway = try await TestGateway(backends: [dead, backends[0].server.port!], retries: 1)
        let socket = try TestSocket(port: gateway.port)  // one connection: one event loop, one cursor
        for _ in 0..<4 {
            try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().status == 200)
        }
        #expect(
            gateway.stats.retries.load(ordering: .relaxed) == 1,
            "the first pick of the dead server takes it out of rotation: later picks skip it")
        #expect(gateway.upstream.servers[0].health.isUnreachable(now: Int64(NIODeadline.now().uptimeNanoseconds)))
        #expect(gateway.stats.badGateway.load(ordering: .relaxed) == 0)
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func deadUpstreamGives502() async throws {
        let gateway = try await TestGateway(backends: [try await deadPort()], retries: 2)
        let response = try await TestHTTP.request(port: gateway.port, "GET", "/ping")
        #expect(response.status == 502)
        #expect(gateway.stats.badGateway.load(ordering: .relaxed) == 1)
        #expect(gateway.stats.connectFailures.load(ordering: .relaxed) == 1, "one server: nothing else to try")
        await gateway.stop()
    }

    @Test func upstreamDyingMidRequestGives502AndFreesItsPoolSlot() async throws {
        let backends = try await startBackends(["a1"])
        var settings = PoolSettings()
        settings.maxConnections = 1
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gateway = try await TestGateway(
            backends: [backends[0].server.port!], timeout: .seconds(60), settings: settings, group: group)
        let socket = try TestSocket(port: gateway.port)
        // Held for 20 s by the backend: it is killed long before it would answer, however busy the machine.
        try await socket.send("GET /ping?delay=20s HTTP/1.1\r\nHost: x\r\n\r\n")
        for _ in 0..<200 where backends[0].server.connectionCount == 0 { try await Task.sleep(for: .milliseconds(5)) }
        await backends[0].server.shutdown(gracePeriod: .zero)  // the backend dies with the request in flight
        #expect(try await socket.readResponse().status == 502)
        let upstream = gateway.upstream
        let loop = group.next()
        let pool = try await loop.submit { upstream.servers[0].pool(on: loop).openCount }.get()
        #expect(pool == 0, "the dead connection no longer counts against max_connections")
        await gateway.stop()
        try await group.shutdownGracefully()
    }

    @Test func slowUpstreamGives504() async throws {
        let backends = try await startBackends(["a1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! }, timeout: .milliseconds(200))
        let response = try await TestHTTP.request(port: gateway.port, "GET", "/ping?delay=2s")
        #expect(response.status == 504)
        #expect(gateway.stats.gatewayTimeout.load(ordering: .relaxed) == 1)
        let fine = try await TestHTTP.request(port: gateway.port, "GET", "/ping?delay=10ms")
        #expect(fine.status == 200)
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func fullPoolQueuesThenOverflowsWith503() async throws {
        let backends = try await startBackends(["a1"])
        var settings = PoolSettings()
        settings.maxConnections = 1
        settings.queue = 1
        settings.queueTimeout = .seconds(5)
        // One event loop, so one pool: one connection busy, one request queued, the third refused.
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! }, settings: settings, group: group)
        let sockets = try (0..<3).map { _ in try TestSocket(port: gateway.port) }
        // The backend holds each answer for 2 s: all three requests are in before the first answer, even on a busy
        // machine.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for socket in sockets {
                group.addTask { try await socket.send("GET /ping?delay=2s HTTP/1.1\r\nHost: x\r\n\r\n") }
            }
            try await group.waitForAll()
        }
        var statuses: [Int] = []
        for socket in sockets { statuses.append(try await socket.readResponse().status) }
        #expect(statuses.sorted() == [200, 200, 503])
        #expect(gateway.stats.serviceUnavailable.load(ordering: .relaxed) == 1)
        #expect(backends[0].server.connectionCount == 1, "the queued request reused the one connection")
        await gateway.stop()
        try await group.shutdownGracefully()
        for (_, server) in backends { await server.shutdown() }
    }
}
