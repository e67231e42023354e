import NIOCore
import SluiceConfig
import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Which instance answered each of `count` requests on one keep-alive connection; statuses other than 200 are
/// collected as failures.
func tally(port: Int, count: Int, path: String = "/api/v1/users/1") async throws -> (seen: [String: Int], failures: Int) {
    let socket = try TestSocket(port: port)
    var seen: [String: Int] = [:]
    var failures = 0
    for _ in 0..<count {
        try await socket.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try await socket.readResponse()
        guard response.status == 200 else {
            failures += 1
            continue
        }
        let parts = response.text.split(separator: #""instance":""#, maxSplits: 1)
        if parts.count == 2 {
            let name = parts[1].prefix { $0 != "\"" }
            seen[String(name), default: 0] += 1
        }
    }
    return (seen, failures)
}

/// Waits (bounded) until `condition` holds.
func waitUntil(seconds: Double = 4, _ condition: () -> Bool) async throws {
    for _ in 0..<Int(seconds * 100) where !condition() { try await Task.sleep(for: .milliseconds(10)) }
}

@Suite(.serialized) struct ZoneAndOutlierTests {
    func zonedBackends() async throws -> [(backend: DemoBackend, server: HTTPServer)] {
        var started: [(DemoBackend, HTTPServer)] = []
        for (name, zone) in [("a1", "az1"), ("a2", "az1"), ("b1", "az2"), ("b2", "az2")] {
            let backend = DemoBackend(configuration: .init(zone: zone, name: name, quiet: true))
            started.append((backend, try await backend.start()))
        }
        return started
    }

    func zonedConfig(_ backends: [(backend: DemoBackend, server: HTTPServer)], extra: String = "") -> String {
        var text = """
            [server]
            listen = 127.0.0.1:0
            zone = az1
            access_log = off
            log_level = critical

            [upstream demo]
            health_check = GET /healthz interval=40ms timeout=500ms rise=2 fall=2
            \(extra)

            """
        for (backend, server) in backends {
            text += "server = 127.0.0.1:\(server.port!) zone=\(backend.configuration.zone)\n"
        }
        text += "\n[route all]\nmatch = /*\nupstream = demo\nretries = 2\n"
        return text
    }

    @Test func trafficStaysInTheLocalZoneAndMovesWhenItFails() async throws {
        let backends = try await zonedBackends()
        let (gateway, port) = try await makeGateway(zonedConfig(backends))
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers

        let healthy = try await tally(port: port, count: 40)
        #expect(healthy.failures == 0)
        #expect(Set(healthy.seen.keys) == ["a1", "a2"], "all healthy: only the local zone az1 \(healthy.seen)")

        // The whole local zone fails its health checks: traffic moves to az2, with no failed request.
        backends[0].backend.isHealthy = false
        backends[1].backend.isHealthy = false
        try await waitUntil { !servers[0].health.isHealthy && !servers[1].health.isHealthy }
        let failedOver = try await tally(port: port, count: 40)
        #expect(failedOver.failures == 0)
        #expect(Set(failedOver.seen.keys) == ["b1", "b2"], "\(failedOver.seen)")

        // az1 comes back: traffic returns to it.
        backends[0].backend.isHealthy = true
        backends[1].backend.isHealthy = true
        try await waitUntil { servers[0].health.isHealthy && servers[1].health.isHealthy }
        let back = try await tally(port: port, count: 40)
        #expect(Set(back.seen.keys) == ["a1", "a2"], "\(back.seen)")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func halfTheLocalZoneDownSpillsInProportion() async throws {
        let backends = try await zonedBackends()
        let (gateway, port) = try await makeGateway(zonedConfig(backends, extra: "panic = 25%"))
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        backends[0].backend.isHealthy = false  // a1 out: az1 has 1 of 3 healthy servers
        try await waitUntil { !servers[0].health.isHealthy }
        let result = try await tally(port: port, count: 600)
        #expect(result.failures == 0)
        #expect(result.seen["a1"] == nil)
        // Envoy's rule: local share p = L × Z / H = 1 × 2 / 3; the rest spills to az2.
        let local = Double(result.seen["a2"] ?? 0) / 600
        #expect(abs(local - 2.0 / 3.0) < 0.08, "local share \(local), expected 0.67: \(result.seen)")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func panicModeUsesEveryServerBelowTheThreshold() async throws {
        let backends = try await zonedBackends()
        let (gateway, port) = try await makeGateway(zonedConfig(backends, extra: "panic = 50%"))
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        for index in 0..<3 { backends[index].backend.isHealthy = false }  // 1 of 4 healthy: below 50%
        try await waitUntil { servers[0..<3].allSatisfy { !$0.health.isHealthy } }
        let panic = try await tally(port: port, count: 80)
        #expect(panic.failures == 0)
        #expect(Set(panic.seen.keys) == ["a1", "a2", "b1", "b2"], "panic: all servers \(panic.seen)")
        // Back above the threshold (2 of 4 healthy): only healthy servers again.
        backends[0].backend.isHealthy = true
        try await waitUntil { servers[0].health.isHealthy }
        let released = try await tally(port: port, count: 40)
        #expect(Set(released.seen.keys).isSubset(of: ["a1", "b2"]), "\(released.seen)")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func outlierDetectorEjectsAFailingServerWithinMaxEjected() async throws {
        var started: [(DemoBackend, HTTPServer)] = []
        for (name, failRate) in [("o1", 1.0), ("o2", 1.0), ("o3", 1.0), ("o4", 0.0)] {
            let backend = DemoBackend(configuration: .init(name: name, failRate: failRate, quiet: true))
            started.append((backend, try await backend.start()))
        }
        var text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            log_level = critical

            [upstream demo]
            outlier = consecutive_5xx=3 ejection=30s max_ejected=50%
            panic = 0%

            """
        for (_, server) in started { text += "server = 127.0.0.1:\(server.port!)\n" }
        text += "\n[route all]\nmatch = /*\nupstream = demo\nretries = 0\n"
        let (gateway, port) = try await makeGateway(text)
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        _ = try await tally(port: port, count: 60, path: "/ping")
        let now = Int64(NIODeadlineNow())
        let ejected = servers.filter { $0.health.isEjected(now: now) }.count
        #expect(ejected == 2, "three servers always fail, but max_ejected = 50% of 4 allows two ejections")
        #expect(!servers[3].health.isEjected(now: now), "the good server stays")
        // With two of the three bad servers out, the good one gets most of the traffic.
        let after = try await tally(port: port, count: 40, path: "/api/v1/users/1")
        #expect((after.seen["o4"] ?? 0) >= 15, "\(after.seen)")
        await gateway.shutdown()
        for (_, server) in started { await server.shutdown() }
    }
}

extension ZoneAndOutlierTests {
    @Test func serverFailingHalfItsRequestsIsEjected() async throws {
        var started: [(DemoBackend, HTTPServer)] = []
        for (name, failRate) in [("h1", 0.5), ("h2", 0.0), ("h3", 0.0)] {
            let backend = DemoBackend(configuration: .init(name: name, failRate: failRate, quiet: true))
            started.append((backend, try await backend.start()))
        }
        var text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            log_level = critical

            [upstream demo]
            outlier = consecutive_5xx=3 ejection=30s max_ejected=50%

            """
        for (_, server) in started { text += "server = 127.0.0.1:\(server.port!)\n" }
        text += "\n[route all]\nmatch = /*\nupstream = demo\nretries = 0\n"
        let (gateway, port) = try await makeGateway(text)
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        // About 100 requests reach h1; three 503s in a row among them is all but certain (a miss is ~1e-7).
        _ = try await tally(port: port, count: 300, path: "/ping")
        let now = Int64(NIODeadlineNow())
        #expect(servers[0].health.isEjected(now: now), "h1 fails half its requests and is ejected")
        #expect(!servers[1].health.isEjected(now: now) && !servers[2].health.isEjected(now: now))
        let after = try await tally(port: port, count: 30, path: "/api/v1/users/1")
        #expect(after.failures == 0 && after.seen["h1"] == nil, "\(after.seen)")
        await gateway.shutdown()
        for (_, server) in started { await server.shutdown() }
    }

    @Test func killedServerUnderLoadCostsNoRequestAndComesBack() async throws {
        var backends = try await zonedBackends()
        let (gateway, port) = try await makeGateway(zonedConfig(backends).replacing("zone = az1\n", with: ""))
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        let victimPort = backends[1].server.port!

        // Four clients send requests back to back while a2 is killed (no drain) and later restarted.
        let clients = (0..<4).map { _ in
            Task { () throws -> (ok: Int, failed: Int) in
                let socket = try TestSocket(port: port)
                var ok = 0
                var failed = 0
                for _ in 0..<150 {
                    try await socket.send("GET /api/v1/users/1 HTTP/1.1\r\nHost: x\r\n\r\n")
                    if try await socket.readResponse().status == 200 { ok += 1 } else { failed += 1 }
                    try await Task.sleep(for: .milliseconds(2))
                }
                return (ok, failed)
            }
        }
        try await Task.sleep(for: .milliseconds(100))  // let the load start; not an assertion on time
        await backends[1].server.shutdown(gracePeriod: .zero)
        try await waitUntil { !servers[1].health.isHealthy }
        #expect(!servers[1].health.isHealthy, "marked down after fall (2) failed probes")

        let restarted = DemoBackend(configuration: .init(host: "127.0.0.1", port: victimPort, zone: "az1", name: "a2", quiet: true))
        backends[1] = (restarted, try await restarted.start())
        try await waitUntil { servers[1].health.isHealthy }
        #expect(servers[1].health.isHealthy, "back after rise (2) good probes")

        var ok = 0
        var failed = 0
        for client in clients {
            let result = try await client.value
            ok += result.ok
            failed += result.failed
        }
        #expect(failed == 0, "retries hid the dead server from every client")
        #expect(ok == 600)
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }
}

func NIODeadlineNow() -> UInt64 { NIODeadline.now().uptimeNanoseconds }
