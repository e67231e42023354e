import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Active health checks against real demo backends: a server whose /healthz fails is taken out after `fall`
/// probes and put back after `rise`, and traffic follows.
@Suite(.serialized) struct HealthCheckTests {
    @Test func failingServerIsTakenOutAndComesBack() async throws {
        let backends = try await startBackends(["h1", "h2"])
        let text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            log_level = error

            [upstream demo]
            server = 127.0.0.1:\(backends[0].server.port!)
            server = 127.0.0.1:\(backends[1].server.port!)
            health_check = GET /healthz interval=50ms timeout=500ms rise=2 fall=2

            [route all]
            match = /*
            upstream = demo
            """
        let (gateway, port) = try await makeGateway(text)
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        // Which instances answered `count` requests; every one must be a 200.
        func instances(_ count: Int) async throws -> Set<String> {
            let result = try await tally(port: port, count: count)
            #expect(result.failures == 0)
            return Set(result.seen.keys)
        }
        #expect(try await instances(8) == ["h1", "h2"])

        backends[1].backend.isHealthy = false
        try await waitUntil { !servers[1].health.isHealthy }
        #expect(!servers[1].health.isHealthy, "two failed probes take h2 out")
        #expect(servers[0].health.isHealthy)
        #expect(try await instances(8) == ["h1"], "an unhealthy server gets no traffic")

        backends[1].backend.isHealthy = true
        try await waitUntil { servers[1].health.isHealthy }
        #expect(servers[1].health.isHealthy, "two good probes bring h2 back")
        #expect(try await instances(8) == ["h1", "h2"])

        // Everything unhealthy: rather than refuse, the gateway tries all servers.
        backends[0].backend.isHealthy = false
        backends[1].backend.isHealthy = false
        try await waitUntil { !servers[0].health.isHealthy && !servers[1].health.isHealthy }
        #expect(try await instances(4) == ["h1", "h2"])
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func slowStartRampsAReturningServer() async throws {
        let backends = try await startBackends(["s1", "s2"])
        let text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            log_level = critical

            [upstream demo]
            server = 127.0.0.1:\(backends[0].server.port!)
            server = 127.0.0.1:\(backends[1].server.port!)
            health_check = GET /healthz interval=40ms timeout=500ms rise=1 fall=1
            slow_start = 30s
            panic = 0%

            [route all]
            match = /*
            upstream = demo
            """
        let (gateway, port) = try await makeGateway(text)
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        backends[1].backend.isHealthy = false
        try await waitUntil { !servers[1].health.isHealthy }
        backends[1].backend.isHealthy = true
        try await waitUntil { servers[1].health.isHealthy }
        // Just back, with a 30 s ramp: s2 weighs 0.1 of s1, so it gets about 1 request in 11.
        let result = try await tally(port: port, count: 110)
        let share = Double(result.seen["s2"] ?? 0) / 110
        #expect(share > 0 && share < 0.2, "s2's share right after returning: \(share) \(result.seen)")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func healthSurvivesAReloadAndShowsInTheSnapshot() async throws {
        let backends = try await startBackends(["r1", "r2"])
        let base = """
            [server]
            listen = LISTEN
            access_log = off
            log_level = critical

            [upstream demo]
            server = 127.0.0.1:\(backends[0].server.port!)
            server = 127.0.0.1:\(backends[1].server.port!)
            health_check = GET /healthz interval=50ms timeout=500ms rise=2 fall=1

            [route all]
            match = /*
            upstream = demo

            """
        let (gateway, port) = try await makeGateway(base.replacing("LISTEN", with: "127.0.0.1:0"))
        backends[1].backend.isHealthy = false
        try await waitUntil { gateway.snapshot().upstreams[0].servers[1].healthy == false }
        // A reload that changes something else: r2's health (and the prober's streak) carry over.
        try await gateway.apply(try ConfigLoader.parse(
            base.replacing("LISTEN", with: "127.0.0.1:\(port)") + "[route extra]\nmatch = /x/*\nupstream = demo\n"))
        let snapshot = gateway.snapshot()
        #expect(snapshot.generation == 2)
        #expect(snapshot.upstreams.map(\.name) == ["demo"])
        #expect(snapshot.upstreams[0].servers.map(\.healthy) == [true, false], "r2 is still down right after the reload")
        #expect(snapshot.upstreams[0].servers.allSatisfy { !$0.ejected && !$0.backup })
        #expect(!snapshot.upstreams[0].panic)
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }
}
