import Foundation
import SluiceRouter
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Polls `condition` until it holds, for at most `limit` (the condition is asserted, not the time).
func eventually(limit: Duration = .seconds(10), _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}

@Suite(.serialized) struct MirrorTests {
    @Test func copiesGoToTheShadowAndNeverHurtTheRealRequest() async throws {
        let shadow = try await RecordingUpstream.start()
        let dead = try await deadPort()
        try await FilterFixture.with("""
            [route mirrored]
            match = /m/*rest
            upstream = rec
            mirror = shadow percent=100 max_body=1k

            [route lost]
            match = /lost/*rest
            upstream = rec
            mirror = nowhere
            """, upstreams: """
            [upstream shadow]
            server = 127.0.0.1:\(shadow.port)

            [upstream nowhere]
            server = 127.0.0.1:\(dead)
            """) { gateway in
            let response = try await gateway.request("POST", "/m/orders?x=1", headers: [("Content-Type", "text/plain")], body: "hello")
            #expect(response.status == 200)
            #expect(try await eventually { shadow.requests.count == 1 })
            let copy = try #require(shadow.requests.first)
            #expect(copy.method == "POST")
            #expect(copy.uri == "/m/orders?x=1")
            #expect(String(decoding: copy.body, as: UTF8.self) == "hello")
            #expect(copy.header("sluice-mirror") == "1")
            #expect(gateway.last?.header("sluice-mirror") == nil)

            // A body over max_body is not mirrored; the real request is served as ever.
            let big = String(repeating: "x", count: 4096)
            #expect(try await gateway.request("POST", "/m/big", body: big).status == 200)
            let route = try #require(gateway.gateway.currentState.routes.lookup(host: nil, method: "POST", path: "/m/big").foundRoute)
            #expect(try await eventually { route.filters?.mirror?.skipped.load(ordering: .relaxed) == 1 })
            #expect(shadow.requests.count == 1)

            // A shadow that is down costs the real requests nothing.
            for _ in 0..<5 { #expect(try await gateway.request("/lost/x").status == 200) }
            let lost = try #require(gateway.gateway.currentState.routes.lookup(host: nil, method: "GET", path: "/lost/x").foundRoute)
            let mirror = try #require(lost.filters?.mirror)
            #expect(
                try await eventually { mirror.failed.load(ordering: .relaxed) == 5 },
                "sent \(mirror.sent.load(ordering: .relaxed)), skipped \(mirror.skipped.load(ordering: .relaxed)), answered \(mirror.answered.load(ordering: .relaxed))")
        }
        await shadow.stop()
    }
}

extension RouteMatch where Value == ProxyRoute {
    var foundRoute: ProxyRoute? {
        if case .found(let route, _) = self { return route }
        return nil
    }
}

@Suite(.serialized) struct DiscoveryTests {
    static func srv(_ ports: [Int]) -> [String: Any] {
        [
            "_rec._tcp.test.": ["SRV": ports.map { [10, 5, $0, "a.test."] }, "ttl": 1],
            "a.test.": ["A": ["127.0.0.1"], "ttl": 1],
            "users.test.": ["A": ["127.0.0.1"], "ttl": 1],
        ]
    }

    @Test func srvAnswersAddAndDrainServersWithoutAReload() async throws {
        let second = try await RecordingUpstream.start()
        let folder = try makeTemporaryDirectory("sluice-dns")
        let upstream = try await RecordingUpstream.start()
        let dns = try await FakeDNSServer(zone: Self.srv([upstream.port]), directory: folder)
        defer { dns.stop() }
        try await FilterFixture.with("""
            [route dyn]
            match = /dyn/*rest
            upstream = dyn

            [route named]
            match = /named/*rest
            upstream = named
            """, server: "resolver = 127.0.0.1:\(dns.port)", upstreams: """
            [upstream dyn]
            server = _rec._tcp.test srv resolve
            resolve_interval = 1s

            [upstream named]
            server = users.test:{rec} resolve
            """) { gateway in
            func servers() -> [String] {
                (gateway.gateway.currentState.upstreams["dyn"]?.servers ?? []).map(\.target.description).sorted()
            }
            #expect(servers() == ["127.0.0.1:\(upstream.port)"])
            #expect(try await gateway.request("/dyn/a").status == 200)
            #expect(upstream.requests.count == 1)
            #expect(try await gateway.request("/named/a").status == 200, "an A record with the line's port")
            let generation = gateway.gateway.generation
            let kept = try #require(gateway.gateway.currentState.upstreams["dyn"]?.servers.first)

            try dns.update(Self.srv([upstream.port, second.port]))
            #expect(try await eventually { servers().count == 2 })
            #expect(gateway.gateway.currentState.upstreams["dyn"]?.servers.contains { $0 === kept } == true,
                    "the address that stayed keeps its server, pools and health")
            #expect(gateway.gateway.generation > generation)

            try dns.update(Self.srv([second.port]))
            #expect(try await eventually { servers() == ["127.0.0.1:\(second.port)"] })
            for _ in 0..<3 { #expect(try await gateway.request("/dyn/b").status == 200) }
            #expect(second.requests.count == 3)

            // The name disappears: a failed lookup keeps the last answer.
            let failures = gateway.gateway.discovery?.counts.failures ?? 0
            try dns.update([:])
            #expect(try await eventually { (gateway.gateway.discovery?.counts.failures ?? 0) >= failures + 2 })
            #expect(servers() == ["127.0.0.1:\(second.port)"])
            #expect(try await gateway.request("/dyn/c").status == 200)
        }
        await upstream.stop()
        await second.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }
}
