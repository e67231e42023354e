import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Routing by host, method and path, and pool limits, driven by INI configurations.
@Suite struct GatewayRoutingTests {
    @Test func hostsMethodsAndPaths() async throws {
        let backends = try await startBackends(["a1", "b1"])
        let (a, b) = (backends[0].server.port!, backends[1].server.port!)
        let text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off

            [upstream a]
            server = 127.0.0.1:\(a)

            [upstream b]
            server = 127.0.0.1:\(b)

            [route api-exact]
            host = api.example.com
            match = /api/v1/users/:id
            methods = GET
            upstream = a

            [route api-wild]
            host = *.example.com
            match = /api/v1/users/:id
            upstream = b

            [route default]
            match = /api/v1/users/:id
            upstream = a
            """
        let (gateway, port) = try await makeGateway(text)
        func instance(_ host: String, _ method: String = "GET", _ path: String = "/api/v1/users/1") async throws -> String {
            let response = try await TestHTTP.request(port: port, method, path, headers: [("Host", host)])
            if response.status != 200 { return "\(response.status)" }
            return response.text.contains(#""instance":"a1""#) ? "a1" : "b1"
        }
        #expect(try await instance("api.example.com") == "a1")
        #expect(try await instance("API.Example.com:443") == "a1", "host matching ignores case and port")
        #expect(try await instance("eu.example.com") == "b1", "the wildcard catches other subdomains")
        #expect(try await instance("example.com") == "a1", "*.example.com does not match the bare domain: host-less routes")
        #expect(try await instance("api.example.com", "DELETE") == "405")
        #expect(try await instance("other.org") == "a1", "no host matches: the host-less routes")
        #expect(try await instance("other.org", "GET", "/nope") == "404")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func connectionsAreRetiredAfterKeepaliveRequests() async throws {
        let backends = try await startBackends(["a1"])
        let text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off

            [upstream demo]
            server = 127.0.0.1:\(backends[0].server.port!)
            keepalive_requests = 3

            [route all]
            match = /*
            upstream = demo
            """
        let (gateway, port) = try await makeGateway(text)
        let socket = try TestSocket(port: port)
        for _ in 0..<3 {
            try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().status == 200)
        }
        // The retired connection's close reaches the backend asynchronously: wait for it (bounded), then check.
        for _ in 0..<200 where backends[0].server.connectionCount != 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(backends[0].server.connectionCount == 0, "the third request was the connection's last")
        try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await socket.readResponse().status == 200, "a new connection takes over")
        #expect(backends[0].server.connectionCount == 1)
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }
}
