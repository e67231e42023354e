import Foundation
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// `/status`, `/debug/state` and the admin actions.
@Suite(.serialized) struct StatusTests {
    @Test func statusShowsAKilledServerAsDown() async throws {
        try await OperationsFixture.with() { fixture in
            let a1 = "127.0.0.1:\(fixture.backends[0].server.port!)"
            #expect(try await fixture.waitForStatus { status in
                Self.server(a1, in: status)?["state"] as? String == "up"
            })
            let status = try await fixture.status()
            let config = try #require(status["config"] as? [String: Any])
            #expect(config["routes"] as? Int == 2 && config["zone"] as? String == "az1")
            #expect((config["hash"] as? String)?.count == 16)
            let runtime = try #require(status["runtime"] as? [String: Any])
            #expect((runtime["rss_bytes"] as? Int ?? 0) > 0 && (runtime["open_fds"] as? Int ?? 0) > 0)
            #expect((runtime["event_loop_lag_seconds"] as? [Double])?.isEmpty == false)
            let routes = try #require(status["routes"] as? [[String: Any]])
            #expect(routes.map { $0["name"] as? String } == ["users", "everything"])
            #expect((routes.first?["rate_limits"] as? [String])?.first?.hasPrefix("1/1s") == true)

            await fixture.backends[0].server.shutdown(gracePeriod: .seconds(1))
            #expect(try await fixture.waitForStatus { status in
                Self.server(a1, in: status)?["state"] as? String == "down"
            }, "the killed server never showed as down")
            let servers = try await fixture.servers()
            #expect(servers.first { $0["address"] as? String == a1 }?["healthy"] as? Bool == false)
            #expect(servers.first { $0["address"] as? String != a1 }?["state"] as? String == "up")
            #expect(servers.map { $0["zone"] as? String } == ["az1", "az2"])
        }
    }

    @Test func drainingByTheAdminAPITakesAServerOutOfRotation() async throws {
        try await OperationsFixture.with(healthCheck: false) { fixture in
            let a1 = "127.0.0.1:\(fixture.backends[0].server.port!)"
            // Without the token: 401.
            #expect(try await fixture.admin("/drain?upstream=demo&server=\(a1)&state=on", method: "POST").status == 401)
            let drained = try await fixture.admin("/drain?upstream=demo&server=127.0.0.1%3A\(fixture.backends[0].server.port!)&state=on", method: "POST", token: true)
            #expect(drained.status == 200)
            #expect(try await fixture.servers().first { $0["address"] as? String == a1 }?["state"] as? String == "drained")
            // a1 is the local zone's only server: drained, everything goes to b1 (az2), even though a1 is healthy.
            for id in 0..<6 {
                let answer = try await fixture.get("/api/v1/users/\(id)", headers: [("x-key", "k\(id)")])
                #expect(answer.status == 200 && answer.text.contains("\"b1\""), "\(answer.text)")
            }
            #expect(try await fixture.admin("/drain?upstream=demo&server=\(a1)&state=off", method: "POST", token: true).status == 200)
            #expect(try await fixture.servers().first { $0["address"] as? String == a1 }?["state"] as? String == "up")
            #expect(try await fixture.get("/api/v1/users/9", headers: [("x-key", "z")]).text.contains("\"a1\""))
            // Unknown servers and bad states are refused with a reason.
            let unknown = try await fixture.admin("/drain?upstream=demo&server=10.9.9.9:1&state=on", method: "POST", token: true)
            #expect(unknown.status == 404 && unknown.text.contains(a1))
            #expect(try await fixture.admin("/drain?upstream=demo&server=\(a1)&state=maybe", method: "POST", token: true).status == 400)
            // Degrade by route, and the page is served without a token.
            #expect(try await fixture.admin("/degrade?route=users&state=on", method: "POST", token: true).status == 200)
            let routes = try #require(try await fixture.status()["routes"] as? [[String: Any]])
            #expect(routes.first { $0["name"] as? String == "users" }?["degraded"] as? Bool == true)
            let page = try await fixture.admin("/")
            #expect(page.status == 200 && page.header("content-type")?.hasPrefix("text/html") == true)
            #expect(page.header("content-security-policy")?.contains("frame-ancestors 'none'") == true)
            // Reload without a configuration file behind it: refused, said why.
            let reload = try await fixture.admin("/reload", method: "POST", token: true)
            #expect(reload.status == 409)
        }
    }

    @Test func debugStateCountsPoolsListenersAndLimiterTables() async throws {
        try await OperationsFixture.with() { fixture in
            for id in 0..<3 { _ = try await fixture.get("/api/v1/users/\(id)", headers: [("x-key", "key\(id)")]) }
            let response = try await fixture.admin("/debug/state")
            let state = try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
            let pools = try #require(state["pools"] as? [[String: Any]])
            #expect(pools.count == 2)
            #expect(pools.allSatisfy { $0["health_checking"] as? Bool == true })
            #expect(pools.reduce(0) { $0 + ($1["connections_open"] as? Int ?? 0) } >= 1)
            let tables = try #require(state["rate_limit_tables"] as? [[String: Any]])
            #expect(tables.first?["keys"] as? Int == 3)
            #expect((state["listeners"] as? [[String: Any]])?.count == 1)
        }
    }

    static func server(_ address: String, in status: [String: Any]) -> [String: Any]? {
        let upstreams = status["upstreams"] as? [[String: Any]]
        let servers = upstreams?.first?["servers"] as? [[String: Any]]
        return servers?.first { $0["address"] as? String == address }
    }
}
