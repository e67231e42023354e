import SluiceConfig
import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Retry policy and traffic splits, through real demo backends.
@Suite(.serialized) struct RetryAndSplitTests {
    func backends(_ specs: [(String, Double)]) async throws -> [(backend: DemoBackend, server: HTTPServer)] {
        var started: [(DemoBackend, HTTPServer)] = []
        for (name, failRate) in specs {
            let backend = DemoBackend(configuration: .init(name: name, failRate: failRate, quiet: true))
            started.append((backend, try await backend.start()))
        }
        return started
    }

    func upstream(_ name: String, _ servers: [(backend: DemoBackend, server: HTTPServer)], extra: String = "") -> String {
        "[upstream \(name)]\n" + servers.map { "server = 127.0.0.1:\($0.server.port!)\n" }.joined() + extra + "\n"
    }

    let header = "[server]\nlisten = 127.0.0.1:0\naccess_log = off\nlog_level = critical\n\n"

    @Test func retryableStatusesAreRetriedOnAnotherServer() async throws {
        let started = try await backends([("bad", 1.0), ("good", 0.0)])
        let text = header + upstream("demo", started)
            + "[route all]\nmatch = /*\nupstream = demo\nretries = 1 on=503 backoff=0s\n"
        let (gateway, port) = try await makeGateway(text)
        let result = try await tally(port: port, count: 20, path: "/ping")
        #expect(result.failures == 0, "every 503 from 'bad' was retried on 'good'")
        #expect(gateway.stats.retries.load(ordering: .relaxed) == 10, "half the first tries hit 'bad'")
        let post = try await TestHTTP.request(port: port, "POST", "/echo", body: "x")
        let posts = [post.status] + (try await [TestHTTP.request(port: port, "POST", "/echo", body: "x").status])
        #expect(posts.contains(503), "a POST is not retried after it reached the upstream")
        await gateway.shutdown()
        for (_, server) in started { await server.shutdown() }
    }

    @Test func withoutAMatchingConditionTheAnswerPassesThrough() async throws {
        let started = try await backends([("bad", 1.0)])
        let text = header + upstream("demo", started) + "[route all]\nmatch = /*\nupstream = demo\nretries = 2\n"
        let (gateway, port) = try await makeGateway(text)
        let response = try await TestHTTP.request(port: port, "GET", "/ping")
        #expect(response.status == 503, "503 is not in the default on=connect_failure,reset")
        #expect(response.text.contains("injected failure"), "the upstream's own answer is relayed")
        #expect(gateway.stats.retries.load(ordering: .relaxed) == 0)
        await gateway.shutdown()
        for (_, server) in started { await server.shutdown() }
    }

    @Test func retryBudgetStopsRetryStorms() async throws {
        let started = try await backends([("bad1", 1.0), ("bad2", 1.0), ("bad3", 1.0)])
        let text = header + upstream("demo", started, extra: "retry_budget = 0% min=0")
            + "[route all]\nmatch = /*\nupstream = demo\nretries = 2 on=503 backoff=0s\n"
        let (gateway, port) = try await makeGateway(text)
        let response = try await TestHTTP.request(port: port, "GET", "/ping")
        #expect(response.status == 503)
        #expect(gateway.stats.retries.load(ordering: .relaxed) == 0, "a zero budget allows no retry")
        await gateway.shutdown()
        for (_, server) in started { await server.shutdown() }
    }

    @Test func weightedSplitStickySplitAndCanary() async throws {
        let v1 = try await backends([("v1", 0.0)])
        let v2 = try await backends([("v2", 0.0)])
        let split = { (shares: String, key: String) in
            self.header + self.upstream("v1", v1) + self.upstream("v2", v2)
                + "[route all]\nmatch = /*\nupstream = \(shares)\n\(key)canary = header:X-Canary=1 -> v2\n"
        }
        let (gateway, port) = try await makeGateway(split("v1 90%, v2 10%", ""))
        let drawn = try await tally(port: port, count: 1000)
        let share = Double(drawn.seen["v2"] ?? 0) / 1000
        #expect(abs(share - 0.1) < 0.04, "v2 gets about 10%: \(drawn.seen)")

        let canary = try await TestHTTP.request(port: port, "GET", "/api/v1/users/1", headers: [("X-Canary", "1")])
        #expect(canary.text.contains(#""instance":"v2""#))

        // Shift traffic with a reload: 0/100, and sticky by user.
        let listen = "127.0.0.1:\(port)"
        let shifted = split("v1 0%, v2 100%", "").replacing("127.0.0.1:0", with: listen)
        try await gateway.apply(try ConfigLoader.parse(shifted))
        #expect(try await tally(port: port, count: 20).seen == ["v2": 20])
        let sticky = split("v1 50%, v2 50%", "split_key = header:X-User-Id\n").replacing("127.0.0.1:0", with: listen)
        try await gateway.apply(try ConfigLoader.parse(sticky))
        for user in ["alice", "bob", "carol", "dave"] {
            var seen = Set<String>()
            for _ in 0..<10 {
                let response = try await TestHTTP.request(port: port, "GET", "/api/v1/users/1", headers: [("X-User-Id", user)])
                seen.insert(response.text.contains(#""instance":"v1""#) ? "v1" : "v2")
            }
            #expect(seen.count == 1, "\(user) always lands on the same side")
        }
        await gateway.shutdown()
        for (_, server) in v1 + v2 { await server.shutdown() }
    }
}
