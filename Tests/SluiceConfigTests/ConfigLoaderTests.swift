import SluiceConfig
import Testing

@Suite struct ConfigLoaderTests {
    /// ARCHITECTURE.md's example, trimmed to the keys that exist so far, plus a minimal upstream and route that take
    /// every default.
    static let example = """
        ; /etc/sluice/sluice.ini
        [server]
        listen = 0.0.0.0:8080
        listen = [::]:8080
        zone = az1                    ; this gateway's own zone
        admin = 127.0.0.1:9901
        workers = 4
        max_body_size = 8m
        log_level = notice
        access_log = off

        [upstream users]
        server = 10.0.1.10:8081 zone=az1
        server = 10.0.2.10:8081 zone=az2 weight=2
        server = [fd00::3]:8081 zone=az3 max_conns=10 backup
        balance = least_request
        keepalive = 0
        queue = 0
        queue_timeout = 250ms
        connect_timeout = 1.5s

        [upstream feed]
        server = feed.internal:9000

        [route users]
        match = /api/v1/users/*
        host = API.example.com, *.example.com
        host = admin.example.com
        methods = get, POST
        upstream = users
        timeout = 5s
        retries = 2
        host_rewrite = users.internal

        [route recommendations]
        match = /api/v1/feed/*
        upstream = feed
        """

    @Test func exampleParsesIntoExactValues() throws {
        let config = try ConfigLoader.parse(Self.example, file: "sluice.ini")
        func at(_ line: Int) -> SluiceConfig.SourceLocation { SourceLocation(file: "sluice.ini", line: line) }
        let expected = GatewayConfig(
            server: ServerConfig(
                listen: [ListenAddress(host: "0.0.0.0", port: 8080), ListenAddress(host: "::", port: 8080)],
                zone: "az1",
                admin: ListenAddress(host: "127.0.0.1", port: 9901),
                workers: 4,
                maxHeaderSize: 16384,
                maxBodySize: 8 * 1024 * 1024,
                clientHeaderTimeout: .seconds(10),
                keepaliveTimeout: .seconds(60),
                drainTimeout: .seconds(30),
                accessLog: false,
                logLevel: .notice,
                location: at(2)),
            upstreams: [
                UpstreamConfig(
                    name: "users",
                    servers: [
                        UpstreamServerConfig(host: "10.0.1.10", port: 8081, zone: "az1", location: at(13)),
                        UpstreamServerConfig(host: "10.0.2.10", port: 8081, zone: "az2", weight: 2, location: at(14)),
                        UpstreamServerConfig(
                            host: "fd00::3", port: 8081, zone: "az3", maxConnections: 10, backup: true, location: at(15)
                        ),
                    ],
                    balance: .leastRequest,
                    keepalive: 0,
                    keepaliveTimeout: .seconds(60),
                    keepaliveRequests: 1000,
                    maxConnections: 256,
                    queue: 0,
                    queueTimeout: .milliseconds(250),
                    connectTimeout: .milliseconds(1500),
                    location: at(12)),
                UpstreamConfig(
                    name: "feed", servers: [UpstreamServerConfig(host: "feed.internal", port: 9000, location: at(23))],
                    balance: .roundRobin, keepalive: 32, keepaliveTimeout: .seconds(60), keepaliveRequests: 1000,
                    maxConnections: 256, queue: 128, queueTimeout: .seconds(1), connectTimeout: .seconds(1),
                    location: at(22)),
            ],
            routes: [
                RouteConfig(
                    name: "users", match: "/api/v1/users/*",
                    hosts: ["api.example.com", "*.example.com", "admin.example.com"], methods: ["GET", "POST"],
                    upstream: "users", timeout: .seconds(5), idleTimeout: .seconds(60), retries: 2,
                    hostRewrite: "users.internal", location: at(25)),
                RouteConfig(
                    name: "recommendations", match: "/api/v1/feed/*", hosts: [], methods: [], upstream: "feed",
                    timeout: .seconds(30), idleTimeout: .seconds(60), retries: 1, hostRewrite: nil, location: at(35)),
            ],
            files: ["sluice.ini"])
        #expect(config.server == expected.server)
        #expect(config.upstreams == expected.upstreams)
        #expect(config.routes == expected.routes)
        #expect(config == expected)
        #expect(config.upstream(named: "feed")?.servers.first?.address == "feed.internal:9000")
        #expect(config.upstream(named: "nope") == nil)
    }

    @Test func minimalConfigTakesEveryDefault() throws {
        let config = try ConfigLoader.parse(validHead + "[route r]\nmatch = /\nupstream = users\n")
        let server = config.server
        #expect(server.listen == [ListenAddress(host: "0.0.0.0", port: 8080)])
        #expect(server.zone == nil && server.admin == nil && server.workers == nil)
        #expect(server.maxHeaderSize == 16384 && server.maxBodySize == 0)
        #expect(server.clientHeaderTimeout == .seconds(10))
        #expect(server.keepaliveTimeout == .seconds(60) && server.drainTimeout == .seconds(30))
        #expect(server.accessLog && server.logLevel == .info)
        #expect(server.location == SourceLocation(file: "<memory>", line: 1))
        let upstream = try #require(config.upstreams.first)
        #expect(upstream.balance == .roundRobin && upstream.keepalive == 32 && upstream.keepaliveRequests == 1000)
        #expect(upstream.keepaliveTimeout == .seconds(60) && upstream.maxConnections == 256 && upstream.queue == 128)
        #expect(upstream.queueTimeout == .seconds(1) && upstream.connectTimeout == .seconds(1))
        #expect(
            upstream.servers == [
                UpstreamServerConfig(host: "10.0.0.1", port: 80, location: .init(file: "<memory>", line: 5))
            ])
        let server1 = upstream.servers[0]
        #expect(server1.weight == 1 && server1.zone == nil && server1.maxConnections == nil && !server1.backup)
        let route = try #require(config.routes.first)
        #expect(route.hosts.isEmpty && route.methods.isEmpty && route.hostRewrite == nil)
        #expect(route.timeout == .seconds(30) && route.idleTimeout == .seconds(60) && route.retries == 1)
        #expect(config.files == ["<memory>"])
    }

    @Test func serverSectionsMerge() throws {
        let config = try ConfigLoader.parse(
            "[server]\nlisten = 80\n[upstream u]\nserver = a:1\n[server]\nlisten = 81\nzone = z\n")
        #expect(config.server.listen.map(\.port) == [80, 81])
        #expect(config.server.zone == "z")
        #expect(config.server.location.line == 1)
    }

    @Test func referenceFileLoads() throws {
        let config = try ConfigLoader.load(path: Self.packageRoot + "/etc/sluice.ini")
        #expect(config.server.zone == "az1")
        #expect(config.upstreams.map(\.name) == ["users"])
        #expect(config.routes.map(\.name) == ["users"])
        // The reference sets every key to its default.
        let server = ServerConfig(
            listen: config.server.listen, zone: "az1", admin: ListenAddress(host: "127.0.0.1", port: 9901),
            location: config.server.location)
        #expect(config.server == server)
        let upstream = try #require(config.upstreams.first)
        // The one key without a default value to show: the reference shows a typical health check.
        #expect(upstream.healthCheck == HealthCheckConfig())
        #expect(upstream.outlier == OutlierConfig())
        #expect(
            upstream
                == UpstreamConfig(
                    name: "users", servers: upstream.servers, healthCheck: HealthCheckConfig(),
                    outlier: OutlierConfig(), location: upstream.location))
    }

    /// Every key the validator knows is documented in the reference file (as `key = ` or `; key = `).
    @Test func referenceFileDocumentsEveryKey() throws {
        let text = try #require(readFile(Self.packageRoot + "/etc/sluice.ini"))
        let lines = text.split(separator: "\n").map { $0.hasPrefix("; ") ? $0.dropFirst(2) : $0 }
        let keys = [
            "listen", "zone", "admin", "workers", "max_header_size", "max_body_size", "client_header_timeout",
            "keepalive_timeout", "drain_timeout", "access_log", "log_level", "include", "server", "balance",
            "keepalive", "keepalive_requests", "max_connections", "queue", "queue_timeout", "connect_timeout", "match",
            "host", "methods", "upstream", "timeout", "idle_timeout", "retries", "host_rewrite", "trusted_proxies",
            "circuit_breaker", "max_requests", "max_pending", "adaptive_concurrency", "rate_limit", "priority",
            "fallback", "degrade", "fault", "fault_header", "adaptive", "max_inflight", "recovery", "backend",
            "batch", "admin_token", "max_client_connections", "max_headers", "request_buffer_size",
            "client_body_timeout", "request_timeout", "merge_slashes", "escaped_slashes",
        ]
        for key in keys {
            #expect(lines.contains { $0.hasPrefix("\(key) = ") }, "etc/sluice.ini does not show '\(key)'")
        }
    }

    @Test func loadReportsAnUnreadableFile() {
        do {
            _ = try ConfigLoader.load(path: "/nonexistent/sluice.ini")
            Issue.record("expected an error")
        } catch {
            #expect(error.errors.count == 1)
            #expect(error.errors.first?.location == SourceLocation(file: "/nonexistent/sluice.ini", line: 0))
            #expect(error.description == "/nonexistent/sluice.ini: cannot read the file: No such file or directory")
        }
    }

    static var packageRoot: String {
        // Tests/SluiceConfigTests/ConfigLoaderTests.swift → the package root, three levels up.
        var path = "\(#filePath)"
        for _ in 0..<3 { path = String(path[..<path.lastIndex(of: "/")!]) }
        return path
    }
}
