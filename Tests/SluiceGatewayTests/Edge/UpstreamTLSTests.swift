import Foundation
import Logging
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// TLS to upstreams: the upstream is a second gateway terminating TLS (certificate for `a.test`, made with openssl)
/// in front of a demo backend.
@Suite(.serialized) struct UpstreamTLSTests {
    private func front(_ upstreamLines: String) async throws -> Gateway {
        var logger = Logger(label: "test.upstream-tls")
        logger.logLevel = .critical
        let gateway = try Gateway(
            config: try ConfigLoader.parse(
                """
                [server]
                listen = 127.0.0.1:0
                access_log = off

                [upstream secure]
                \(upstreamLines)

                [route all]
                match = /*
                upstream = secure
                """),
            logger: logger)
        try await gateway.start()
        return gateway
    }

    @Test func verifiesTheServerAndReusesPooledTLSConnections() async throws {
        let edge = try await EdgeFixture.start(routeExtra: "")
        defer { Task { await edge.stop() } }
        let dir = edge.directory
        let gateway = try await front(
            "server = 127.0.0.1:\(edge.tlsPort) tls\ntls_ca = \(dir)/a.pem\ntls_sni = a.test\nkeepalive = 4")
        defer { Task { await gateway.shutdown() } }
        let port = gateway.listeningAddresses[0].port!
        let handshakesBefore = edge.gateway.protocolCounters.first { $0.0 == "tls_handshakes" }!.1
        let socket = try TestSocket(port: port)
        for index in 0..<5 {
            try await socket.send("GET /api/v1/users/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try await socket.readResponse()
            #expect(response.status == 200)
            #expect(response.text.contains(#""id":"\#(index)""#))
        }
        let handshakes = edge.gateway.protocolCounters.first { $0.0 == "tls_handshakes" }!.1 - handshakesBefore
        #expect(handshakes == 1, "five requests, one pooled TLS connection")
    }

    @Test func aWrongCAIsRefusedAndVerifyOffIsNot() async throws {
        let edge = try await EdgeFixture.start(routeExtra: "")
        defer { Task { await edge.stop() } }
        let dir = edge.directory
        let wrong = try await front("server = 127.0.0.1:\(edge.tlsPort) tls\ntls_ca = \(dir)/b.pem\ntls_sni = a.test")
        defer { Task { await wrong.shutdown() } }
        let refused = try await TestHTTP.request(port: wrong.listeningAddresses[0].port!, "GET", "/ping")
        #expect(refused.status == 502)

        // The right CA but a name the certificate does not carry: refused too.
        let misnamed = try await front(
            "server = 127.0.0.1:\(edge.tlsPort) tls\ntls_ca = \(dir)/a.pem\ntls_sni = other.test")
        defer { Task { await misnamed.shutdown() } }
        #expect(try await TestHTTP.request(port: misnamed.listeningAddresses[0].port!, "GET", "/ping").status == 502)

        let unverified = try await front("server = 127.0.0.1:\(edge.tlsPort)\ntls = on\ntls_verify = off")
        defer { Task { await unverified.shutdown() } }
        #expect(try await TestHTTP.request(port: unverified.listeningAddresses[0].port!, "GET", "/ping").status == 200)
    }

    @Test func healthChecksUseTheSameTLS() async throws {
        let edge = try await EdgeFixture.start(routeExtra: "")
        defer { Task { await edge.stop() } }
        let gateway = try await front(
            "server = 127.0.0.1:\(edge.tlsPort) tls\ntls_ca = \(edge.directory)/a.pem\ntls_sni = a.test\n"
                + "health_check = GET /healthz interval=100ms timeout=1s rise=1 fall=1")
        defer { Task { await gateway.shutdown() } }
        let server = try #require(gateway.currentState.upstreams["secure"]?.servers.first)
        var healthy = false
        for _ in 0..<200 where !healthy {
            healthy = server.health.isHealthy
            if !healthy { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(healthy)

        // The same checks with a CA that does not sign the server's certificate fail, and take the server out.
        let wrong = try await front(
            "server = 127.0.0.1:\(edge.tlsPort) tls\ntls_ca = \(edge.directory)/b.pem\ntls_sni = a.test\n"
                + "health_check = GET /healthz interval=100ms timeout=1s rise=1 fall=1")
        defer { Task { await wrong.shutdown() } }
        let refused = try #require(wrong.currentState.upstreams["secure"]?.servers.first)
        for _ in 0..<200 where refused.health.isHealthy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!refused.health.isHealthy)
    }

    @Test func configErrors() throws {
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.parse("[server]\nlisten = :8080\n[upstream u]\nserver = 10.0.0.1:443\ntls_verify = off\n")
        }
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.parse("[server]\nlisten = :8080\n[upstream u]\nserver = 10.0.0.1:443 tls=yes\n")
        }
        do {
            _ = try ConfigLoader.parse("[server]\nlisten = :8080\n[upstream u]\nserver = 10.0.0.1:443\ntls = on\ntls_ca = /nonexistent.pem\n")
            Issue.record("a missing CA file was accepted")
        } catch {
            #expect(error.description.contains("<memory>:6: [upstream u] tls_ca: cannot read the CA file /nonexistent.pem"))
        }
    }
}

/// `protocol = h2` upstreams across a reload.
@Suite(.serialized) struct HTTP2UpstreamReloadTests {
    @Test func aRetiredServersStreamsInFlightFinish() async throws {
        let edge = try await EdgeFixture.start(routeExtra: "")
        defer { Task { await edge.stop() } }
        let other = try await startBackends(["other"])
        func config(_ listen: String, server: String) -> String {
            """
            [server]
            listen = \(listen)
            access_log = off
            drain_timeout = 0s
            [upstream h2]
            server = \(server)
            protocol = h2
            [route all]
            match = /*
            upstream = h2
            timeout = 5s
            """
        }
        let (gateway, port) = try await makeGateway(config("127.0.0.1:0", server: "127.0.0.1:\(edge.h2cPort)"))
        // A slow request on the HTTP/2 connection, then a reload that retires that server at once (drain 0s).
        let slow = Task { try await TestHTTP.request(port: port, "GET", "/ping?delay=600ms") }
        try await Task.sleep(for: .milliseconds(150))
        try await gateway.apply(
            try ConfigLoader.parse(config("127.0.0.1:\(port)", server: "127.0.0.1:\(other[0].server.port!)")))
        let answer = try await slow.value
        #expect(answer.status == 200, "a stream in flight on a retired HTTP/2 connection was cut: \(answer.status)")
        #expect(answer.text.contains("pong"))
        await gateway.shutdown()
    }
}
