import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceServer
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// A gateway from INI text, with the listener on an ephemeral port.
func makeGateway(_ text: String) async throws -> (Gateway, Int) {
    var logger = Logger(label: "test.gateway")
    logger.logLevel = .error
    let gateway = try Gateway(config: try ConfigLoader.parse(text), logger: logger)
    try await gateway.start()
    return (gateway, gateway.listeningAddresses.first!.port!)
}

func config(listen: String = "127.0.0.1:0", backends: [Int], keepalive: Int = 32, extraRoute: Bool = false) -> String {
    var text = """
        [server]
        listen = \(listen)
        access_log = off

        [upstream demo]
        keepalive = \(keepalive)

        """
    for port in backends { text += "server = 127.0.0.1:\(port)\n" }
    text += """

        [route all]
        match = /*
        upstream = demo

        """
    if extraRoute {
        text += """

            [route users]
            match = /api/v1/users/:id
            upstream = demo
            timeout = 2s

            """
    }
    return text
}

@Suite(.serialized) struct ReloadTests {
    @Test func reloadsUnderLoadLoseNoRequest() async throws {
        let backends = try await startBackends(["a1", "a2"])
        let ports = backends.map { $0.server.port! }
        let (gateway, port) = try await makeGateway(config(backends: [ports[0]]))
        let listen = "127.0.0.1:\(port)"

        // Four keep-alive clients. Each reload is applied while every client has a batch of requests in flight,
        // so the count of requests that overlap reloads is fixed, not a matter of timing.
        let sockets = try (0..<4).map { _ in try TestSocket(port: port) }
        var total = 0
        var failures: [String] = []
        var applied = 0
        for reload in 0..<50 {
            let next = config(
                listen: listen, backends: reload % 2 == 0 ? ports : [ports[1]], keepalive: 16 + reload % 3,
                extraRoute: reload % 4 == 1)
            try await withThrowingTaskGroup(of: [Int].self) { group in
                for (index, socket) in sockets.enumerated() {
                    group.addTask {
                        var statuses: [Int] = []
                        for _ in 0..<5 {
                            try await socket.send("GET /api/v1/users/\(index) HTTP/1.1\r\nHost: x\r\n\r\n")
                            statuses.append(try await socket.readResponse().status)
                        }
                        return statuses
                    }
                }
                try await gateway.apply(try ConfigLoader.parse(next))
                applied += 1
                for try await statuses in group {
                    total += statuses.count
                    failures += statuses.filter { $0 != 200 }.map { "status \($0) at reload \(reload)" }
                }
            }
            if reload == 25 {
                // An invalid file is refused before anything changes.
                #expect(throws: ConfigErrors.self) { try ConfigLoader.parse(next + "\n[route broken]\nupstream = nowhere\n") }
            }
        }
        #expect(failures.isEmpty, "\(failures.prefix(5))")
        #expect(applied == 50)
        #expect(gateway.generation == 51)
        #expect(total == 1000)
        #expect(gateway.stats.badGateway.load(ordering: .relaxed) == 0)
        #expect(gateway.stats.serviceUnavailable.load(ordering: .relaxed) == 0)
        print("reload test: \(total) requests during 50 reloads, 0 failed")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func unchangedServersKeepTheirPooledConnections() async throws {
        let backends = try await startBackends(["a1"])
        let port = backends[0].server.port!
        let (gateway, gatewayPort) = try await makeGateway(config(backends: [port]))
        let socket = try TestSocket(port: gatewayPort)
        for _ in 0..<5 {
            try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await socket.readResponse()
        }
        #expect(backends[0].server.connectionCount == 1)
        // A change elsewhere (a new route): the server's pool carries over, so no new upstream connection.
        try await gateway.apply(try ConfigLoader.parse(config(listen: "127.0.0.1:\(gatewayPort)", backends: [port], extraRoute: true)))
        for _ in 0..<5 {
            try await socket.send("GET /api/v1/users/1 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().status == 200)
        }
        #expect(backends[0].server.connectionCount == 1, "the pooled connection was reused across the reload")
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func removedServersAreRetiredAfterTheGracePeriod() async throws {
        let backends = try await startBackends(["a1", "a2"])
        let ports = backends.map { $0.server.port! }
        let withDrain = { (backends: [Int], listen: String) in
            config(listen: listen, backends: backends).replacing("access_log = off", with: "access_log = off\ndrain_timeout = 50ms")
        }
        let (gateway, port) = try await makeGateway(withDrain(ports, "127.0.0.1:0"))
        let socket = try TestSocket(port: port)
        for _ in 0..<4 {
            try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = try await socket.readResponse()
        }
        #expect(backends[1].server.connectionCount == 1, "a2 has a pooled connection")
        try await gateway.apply(try ConfigLoader.parse(withDrain([ports[0]], "127.0.0.1:\(port)")))
        // Retired after drain_timeout (50 ms): its idle pooled connection is closed. Wait for that, bounded.
        for _ in 0..<300 where backends[1].server.connectionCount != 0 { try await Task.sleep(for: .milliseconds(10)) }
        #expect(backends[1].server.connectionCount == 0)
        try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await socket.readResponse().status == 200)
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func listenersFollowTheConfiguration() async throws {
        let backends = try await startBackends(["a1"])
        let port = backends[0].server.port!
        let (gateway, first) = try await makeGateway(config(backends: [port]))
        let second = try await deadPort()
        let both = config(backends: [port]).replacing(
            "listen = 127.0.0.1:0", with: "listen = 127.0.0.1:\(first)\nlisten = 127.0.0.1:\(second)")
        try await gateway.apply(try ConfigLoader.parse(both))
        #expect(try await TestHTTP.request(port: second, "GET", "/ping").status == 200, "the new listener serves")
        #expect(try await TestHTTP.request(port: first, "GET", "/ping").status == 200, "the old one still does")
        let onlySecond = config(listen: "127.0.0.1:\(second)", backends: [port])
        try await gateway.apply(try ConfigLoader.parse(onlySecond))
        #expect(throws: (any Error).self) { _ = try TestSocket(port: first) }
        #expect(try await TestHTTP.request(port: second, "GET", "/ping").status == 200)
        await gateway.shutdown()
        for (_, server) in backends { await server.shutdown() }
    }
}
