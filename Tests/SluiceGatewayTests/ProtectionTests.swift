import NIOCore
import SluiceConfig
import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// System protection under a real overload: a backend whose latency climbs with its load, more clients than it can
/// serve, an optional route and a core route.
@Suite(.serialized) struct ProtectionTests {
    struct Tally: Sendable {
        var ok = 0
        var degraded = 0
        var errors = 0
    }

    /// Closed-loop clients on `path` until `deadline`.
    static func drive(port: Int, path: String, clients: Int, until deadline: ContinuousClock.Instant) async throws -> Tally {
        try await withThrowingTaskGroup(of: Tally.self) { group in
            for _ in 0..<clients {
                group.addTask {
                    let socket = try TestSocket(port: port)
                    var tally = Tally()
                    while ContinuousClock.now < deadline {
                        try await socket.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                        let response = try await socket.readResponse()
                        if response.header("sluice-degraded") == "1" {
                            tally.degraded += 1
                        } else if response.status == 200 {
                            tally.ok += 1
                        } else {
                            tally.errors += 1
                        }
                    }
                    return tally
                }
            }
            return try await group.reduce(into: Tally()) { total, tally in
                total.ok += tally.ok
                total.degraded += tally.degraded
                total.errors += tally.errors
            }
        }
    }

    @Test func optionalRouteIsShedWhileTheCoreRouteServesWithoutErrors() async throws {
        let backend = DemoBackend(
            configuration: .init(name: "slow", quiet: true, capacity: 8, baseLatency: .milliseconds(10)))
        let server = try await backend.start()
        let (gateway, port) = try await makeGateway(
            """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            log_level = critical

            [protection]
            adaptive = on

            [upstream demo]
            server = 127.0.0.1:\(server.port!)
            keepalive = 128
            max_connections = 256

            [route users]
            match = /api/v1/users/:id
            upstream = demo
            priority = core

            [route feed]
            match = /api/v1/feed
            upstream = demo
            priority = optional
            """)
        // First a load the backend carries at its base latency: protection learns what uncongested looks like
        // (it never sheds without that reference).
        let calm = ContinuousClock.now + .milliseconds(1500)
        async let calmFeed = Self.drive(port: port, path: "/api/v1/feed", clients: 3, until: calm)
        async let calmUsers = Self.drive(port: port, path: "/api/v1/users/1", clients: 3, until: calm)
        let (calmOptional, calmCore) = try await (calmFeed, calmUsers)
        #expect(calmOptional.degraded == 0 && calmCore.degraded == 0, "shed without an overload")
        // Then five times as many clients as the backend can serve at once.
        let deadline = ContinuousClock.now + .seconds(3)
        async let feed = Self.drive(port: port, path: "/api/v1/feed", clients: 40, until: deadline)
        async let users = Self.drive(port: port, path: "/api/v1/users/1", clients: 4, until: deadline)
        let (optional, core) = try await (feed, users)
        print("[measure] protection: optional ok \(optional.ok) shed \(optional.degraded) errors \(optional.errors); "
            + "core ok \(core.ok) errors \(core.errors + core.degraded)")
        #expect(core.errors == 0 && core.degraded == 0)
        #expect(core.ok > 0)
        #expect(optional.degraded > 0, "the optional route was never shed")
        #expect(optional.errors == 0)
        #expect(gateway.stats.shed.load(ordering: .relaxed) == optional.degraded)
        await gateway.shutdown()
        await server.shutdown()
    }
}
