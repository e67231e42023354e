import Foundation
import Logging
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// RFC 8441: a WebSocket opened by an HTTP/2 extended CONNECT, tunneled to an HTTP/1.1 WebSocket upstream (Python's
/// `websockets`). The client side is HTTP/2 frames written by hand.
@Suite(.serialized) struct WebSocketOverHTTP2Tests {
    /// Reads frames from `socket` until one on `stream` of `type` arrives; returns its flags and payload.
    private func frame(
        _ socket: TestSocket, type: UInt8, stream: UInt32, buffer: inout [UInt8]
    ) -> (flags: UInt8, payload: [UInt8])? {
        while true {
            while buffer.count >= 9 {
                let length = Int(buffer[0]) << 16 | Int(buffer[1]) << 8 | Int(buffer[2])
                guard buffer.count >= 9 + length else { break }
                let frameType = buffer[3]
                let flags = buffer[4]
                let id = UInt32(buffer[5] & 0x7F) << 24 | UInt32(buffer[6]) << 16 | UInt32(buffer[7]) << 8
                    | UInt32(buffer[8])
                let payload = Array(buffer[9..<(9 + length)])
                buffer.removeFirst(9 + length)
                if frameType == type && id == stream { return (flags, payload) }
            }
            guard let chunk = socket.readChunk() else { return nil }
            buffer += chunk
        }
    }

    private static func literal(_ name: String, _ value: String) -> [UInt8] {
        [0x00, UInt8(name.utf8.count)] + Array(name.utf8) + [UInt8(value.utf8.count)] + Array(value.utf8)
    }

    @Test func anExtendedConnectBecomesAWebSocketTunnel() async throws {
        let directory = try makeTemporaryDirectory("sluice-ws2")
        let echo = try await PythonPeer(script: "ws_echo", directory: directory)
        defer { echo.stop() }
        let (gateway, port) = try await makeGateway(
            """
                [server]
                listen = 127.0.0.1:0 h2c
                access_log = off
                drain_timeout = 1s
                [upstream ws]
                server = 127.0.0.1:\(echo.port)
                [route ws]
                match = /*
                upstream = ws
                """)
        let socket = try TestSocket(port: port, timeout: 10)
        try await socket.send(H2Frame.preface + H2Frame.settings())
        var buffer: [UInt8] = []
        // The server's SETTINGS (with SETTINGS_ENABLE_CONNECT_PROTOCOL), acknowledged before the CONNECT.
        let settings = try #require(frame(socket, type: 4, stream: 0, buffer: &buffer))
        #expect(stride(from: 0, to: settings.payload.count, by: 6).contains {
            settings.payload[$0] == 0 && settings.payload[$0 + 1] == 8 && settings.payload[$0 + 5] == 1
        })
        let block: [UInt8] = [0x02, 0x07] + Array("CONNECT".utf8) + [0x86, 0x04, 0x05] + Array("/chat".utf8)
            + [0x01, 0x01, UInt8(ascii: "x")] + Self.literal(":protocol", "websocket")
            + Self.literal("sec-websocket-version", "13")
        try await socket.send(H2Frame.frame(4, flags: 1) + H2Frame.frame(1, flags: 0x4, stream: 1, block))
        let response = try #require(frame(socket, type: 1, stream: 1, buffer: &buffer))
        #expect(response.payload.first == 0x88, ":status 200 (HPACK static index 8)")
        #expect(response.flags & 0x1 == 0, "the stream stays open")

        // A masked text frame "hi" in a DATA frame comes back unmasked in a DATA frame.
        try await socket.send(H2Frame.frame(0, stream: 1, [0x81, 0x82, 0x37, 0xfa, 0x21, 0x3d, 0x5f, 0x93]))
        var echoed: [UInt8] = []
        while echoed.count < 4, let data = frame(socket, type: 0, stream: 1, buffer: &buffer) {
            echoed += data.payload
        }
        #expect(echoed.prefix(4) == [0x81, 0x02, UInt8(ascii: "h"), UInt8(ascii: "i")])
        #expect(gateway.stats.tunnels.load(ordering: .relaxed) == 1)
        await gateway.shutdown()
    }
}
