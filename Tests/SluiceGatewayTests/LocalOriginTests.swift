import NIOCore
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Servers the gateway cannot reach cost no request: a refused connect takes the server out at once, on every
/// event loop, and the request goes to another server whatever `retries` and the retry budget say.
@Suite(.serialized) struct LocalOriginTests {
    func deadAndLiveConfig(dead: [Int], live: [Int], extra: String = "") -> String {
        var text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            log_level = critical

            [upstream demo]
            retry_budget = 0% min=0
            fail_timeout = 60s
            \(extra)

            """
        for port in dead + live { text += "server = 127.0.0.1:\(port)\n" }
        text += "\n[route all]\nmatch = /*\nupstream = demo\nretries = 0\n"
        return text
    }

    @Test func deadServersCostNoRequestEvenWithoutRetriesOrBudget() async throws {
        let backends = try await startBackends(["a1", "a2"])
        let dead = [try await deadPort(), try await deadPort()]
        let (gateway, port) = try await makeGateway(
            deadAndLiveConfig(dead: dead, live: backends.map { $0.server.port! }))
        let result = try await tally(port: port, count: 60, path: "/ping")
        #expect(result.failures == 0, "no request failed for the dead servers")
        #expect(gateway.stats.connectFailures.load(ordering: .relaxed) == 2, "each dead server was tried once, then skipped")
        let servers = try #require(gateway.currentState.upstreams["demo"]).servers
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        #expect(servers[0].health.isUnreachable(now: now) && servers[1].health.isUnreachable(now: now))
        #expect(!servers[2].health.isUnreachable(now: now) && !servers[3].health.isUnreachable(now: now))
        let shown = try #require(gateway.snapshot().upstreams.first { $0.name == "demo" }).servers.map(\.unreachable)
        #expect(shown == [true, true, false, false], "the admin API's /status shows which servers are out")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func maxFailsZeroKeepsADeadServerInRotation() async throws {
        let backends = try await startBackends(["a1"])
        let dead = try await deadPort()
        let (gateway, port) = try await makeGateway(
            deadAndLiveConfig(dead: [dead], live: [backends[0].server.port!], extra: "max_fails = 0"))
        let result = try await tally(port: port, count: 20, path: "/ping")
        #expect(result.failures == 0, "still retried: nothing reached the dead server")
        #expect(gateway.stats.connectFailures.load(ordering: .relaxed) >= 5, "picked again and again (round robin)")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func whenEveryServerIsDeadEachIsTriedOnceThen502() async throws {
        let dead = [try await deadPort(), try await deadPort(), try await deadPort()]
        let (gateway, port) = try await makeGateway(deadAndLiveConfig(dead: dead, live: []))
        let response = try await TestHTTP.request(port: port, "GET", "/ping")
        #expect(response.status == 502)
        #expect(gateway.stats.connectFailures.load(ordering: .relaxed) == 3)
        // All out: better to try them all than to refuse (panic), so the next request tries them again.
        let again = try await TestHTTP.request(port: port, "GET", "/ping")
        #expect(again.status == 502)
        #expect(gateway.stats.connectFailures.load(ordering: .relaxed) == 6)
        await gateway.shutdown()
    }
}
