import Foundation
import Logging
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// A gateway with an admin listener in front of demo backends in two zones, for the operations tests (metrics,
/// status, access log, lifecycle).
struct OperationsFixture {
    static let token = "ops-test-token-0123456789"

    let gateway: Gateway
    let port: Int
    let adminPort: Int
    let backends: [(backend: DemoBackend, server: HTTPServer)]

    /// `extra` is appended to `[server]`; `routes` replaces the default routes.
    static func start(
        serverExtra: String = "", group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        healthCheck: Bool = true
    ) async throws -> OperationsFixture {
        let az1 = try await startBackends(["a1"], zone: "az1")
        let az2 = try await startBackends(["b1"], zone: "az2")
        let backends = az1 + az2
        let text = """
            [server]
            listen = 127.0.0.1:0
            admin = 127.0.0.1:0
            admin_token = \(token)
            zone = az1
            \(serverExtra.contains("access_log =") ? "" : "access_log = off")
            \(serverExtra)

            [upstream demo]
            server = 127.0.0.1:\(az1[0].server.port!) zone=az1
            server = 127.0.0.1:\(az2[0].server.port!) zone=az2
            \(healthCheck ? "health_check = GET /healthz interval=100ms timeout=500ms rise=1 fall=1" : "")
            circuit_breaker = failure_rate=50% window=20 min_calls=10 open=10s half_open=3

            [route users]
            match = /api/v1/users/:id
            upstream = demo
            rate_limit = 1/s burst=5 key=header:x-key

            [route everything]
            match = /*
            upstream = demo
            """
        var logger = Logger(label: "test.operations")
        logger.logLevel = .critical
        let gateway = try Gateway(config: try ConfigLoader.parse(text, file: "/tmp/ops-test.ini"), group: group, logger: logger)
        try await gateway.start()
        return OperationsFixture(
            gateway: gateway, port: gateway.listeningAddresses.first!.port!, adminPort: gateway.adminAddress!.port!,
            backends: backends)
    }

    /// Runs `body` against a fixture and stops it afterwards, also when `body` throws: the next test starts clean.
    static func with(
        serverExtra: String = "", healthCheck: Bool = true, _ body: (OperationsFixture) async throws -> Void
    ) async throws {
        let fixture = try await start(serverExtra: serverExtra, healthCheck: healthCheck)
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }

    func stop() async {
        await gateway.shutdown()
        await gateway.closeUpstreams()
        for (_, server) in backends { await server.shutdown(gracePeriod: .seconds(1)) }
    }

    func get(_ target: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await TestHTTP.request(port: port, "GET", target, headers: headers)
    }

    func admin(_ target: String, method: String = "GET", token: Bool = false) async throws -> TestResponse {
        try await TestHTTP.request(
            port: adminPort, method, target, headers: token ? [("Authorization", "Bearer \(Self.token)")] : [])
    }

    /// `/status` as JSON.
    func status() async throws -> [String: Any] {
        let response = try await admin("/status")
        return try #require(try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])
    }

    /// The servers of `/status`'s first upstream.
    func servers() async throws -> [[String: Any]] {
        let upstreams = try #require(try await status()["upstreams"] as? [[String: Any]])
        return try #require(upstreams.first?["servers"] as? [[String: Any]])
    }

    /// Polls `/status` until `condition` holds, for at most `limit` (the condition, not the time, is asserted).
    func waitForStatus(limit: Duration = .seconds(10), _ condition: ([String: Any]) -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            if condition(try await status()) { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return false
    }
}

/// Prometheus text exposition, parsed: sample lines by their full series name (`name{labels}`).
struct Exposition {
    var samples: [String: Double] = [:]
    var help: Set<String> = []
    var types: [String: String] = [:]

    init(_ text: String) {
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# HELP ") {
                help.insert(String(line.dropFirst(7).split(separator: " ").first ?? ""))
            } else if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ")
                if parts.count == 2 { types[String(parts[0])] = String(parts[1]) }
            } else if !line.hasPrefix("#"), let space = line.lastIndex(of: " ") {
                samples[String(line[..<space])] = Double(line[line.index(after: space)...])
            }
        }
    }

    /// The value of the series `name` whose labels include all of `labels` (nil if none; the sum if several).
    func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
        let matching = samples.filter { key, _ in
            let base = key.split(separator: "{", maxSplits: 1).first.map(String.init) ?? key
            guard base == name else { return false }
            return labels.allSatisfy { key.contains("\($0.key)=\"\($0.value)\"") }
        }
        return matching.isEmpty ? nil : matching.values.reduce(0, +)
    }
}
