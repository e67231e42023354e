import Foundation
import Logging
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// WebSocket through the gateway: Python's `websockets` as server and client, the gateway reloaded mid-conversation
/// and drained with a tunnel open.
@Suite(.serialized) struct WebSocketTunnelTests {
    static let script = PythonPeer.script("ws_echo")

    private func config(listen: String, echo: Int, websocket: Bool = true, drain: String = "30s") -> String {
        """
        [server]
        listen = \(listen)
        access_log = off
        drain_timeout = \(drain)

        [upstream ws]
        server = 127.0.0.1:\(echo)

        [route ws]
        match = /*
        upstream = ws
        websocket = \(websocket ? "on" : "off")
        """
    }

    private func gateway(_ text: String) async throws -> Gateway {
        var logger = Logger(label: "test.ws")
        logger.logLevel = .error
        let gateway = try Gateway(config: try ConfigLoader.parse(text), logger: logger)
        try await gateway.start()
        return gateway
    }

    @Test func echoSurvivesAReload() async throws {
        let directory = try makeTemporaryDirectory("sluice-ws")
        let echo = try await PythonPeer(script: "ws_echo", directory: directory)
        defer { echo.stop() }
        let gateway = try await gateway(config(listen: "127.0.0.1:0", echo: echo.port))
        let port = gateway.listeningAddresses[0].port!
        let pause = "\(directory)/pause"
        try "".write(toFile: pause, atomically: true, encoding: .utf8)
        let client = Task {
            try await Command.run(
                "/usr/bin/env", ["python3", Self.script, "client", "ws://127.0.0.1:\(port)/chat", "200", pause])
        }
        for _ in 0..<400 {
            if (try? String(contentsOfFile: pause, encoding: .utf8)) == "half" { break }
            try await Task.sleep(for: .milliseconds(25))
        }
        // Mid-conversation: a reload that changes the route (and its upstream's pool settings).
        let before = gateway.generation
        try await gateway.apply(
            try ConfigLoader.parse(config(listen: "127.0.0.1:\(port)", echo: echo.port) + "\ntimeout = 5s\n"))
        #expect(gateway.generation == before + 1)
        try "go".write(toFile: pause, atomically: true, encoding: .utf8)
        let result = try await client.value
        #expect(result.stdout.contains("ok 200"), "\(result.stdout) \(result.stderr)")
        #expect(gateway.stats.tunnels.load(ordering: .relaxed) == 1)
        for _ in 0..<200 where gateway.stats.tunnelsOpen.load(ordering: .relaxed) != 0 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(gateway.stats.tunnelsOpen.load(ordering: .relaxed) == 0)
        await gateway.shutdown()
    }

    @Test func websocketOffIsNotTunneled() async throws {
        let directory = try makeTemporaryDirectory("sluice-ws")
        let echo = try await PythonPeer(script: "ws_echo", directory: directory)
        defer { echo.stop() }
        let gateway = try await gateway(config(listen: "127.0.0.1:0", echo: echo.port, websocket: false))
        let port = gateway.listeningAddresses[0].port!
        let socket = try TestSocket(port: port)
        try await socket.send(Self.handshake)
        let response = try await socket.readResponse()
        #expect(response.status != 101)
        #expect(gateway.stats.tunnels.load(ordering: .relaxed) == 0)
        await gateway.shutdown()
    }

    @Test func drainClosesAnOpenTunnelAfterTheDrainTimeout() async throws {
        let directory = try makeTemporaryDirectory("sluice-ws")
        let echo = try await PythonPeer(script: "ws_echo", directory: directory)
        defer { echo.stop() }
        let gateway = try await gateway(config(listen: "127.0.0.1:0", echo: echo.port, drain: "1s"))
        let port = gateway.listeningAddresses[0].port!
        let socket = try TestSocket(port: port)
        try await socket.send(Self.handshake)
        let response = try await socket.readResponse(head: true)
        #expect(response.status == 101)
        #expect(response.header("upgrade")?.lowercased() == "websocket")
        #expect(response.header("sec-websocket-accept") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
        // A masked text frame "hi" (RFC 6455 §5.7) comes back unmasked.
        try await socket.send([0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x5f, 0x93])
        var echoed: [UInt8] = []
        while echoed.count < 4, let chunk = socket.readChunk() { echoed += chunk }
        #expect(echoed.prefix(4) == [0x81, 0x02, UInt8(ascii: "h"), UInt8(ascii: "i")])
        let started = ContinuousClock.now
        await gateway.shutdown()
        #expect(try await socket.waitForClose())
        #expect(ContinuousClock.now - started < .seconds(5))
    }

    /// RFC 6455 §1.3's example handshake.
    static let handshake = "GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
        + "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
}
