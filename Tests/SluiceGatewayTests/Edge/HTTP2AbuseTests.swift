import Foundation
import SluiceServer
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// HTTP/2 frames written by hand, for the abuse patterns no well-behaved client produces.
enum H2Frame {
    static let preface = Array("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".utf8)

    static func frame(_ type: UInt8, flags: UInt8 = 0, stream: UInt32 = 0, _ payload: [UInt8] = []) -> [UInt8] {
        let length = payload.count
        return [UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF), type, flags]
            + [UInt8(stream >> 24 & 0x7F), UInt8(stream >> 16 & 0xFF), UInt8(stream >> 8 & 0xFF), UInt8(stream & 0xFF)]
            + payload
    }

    static func settings(_ pairs: [(UInt16, UInt32)] = []) -> [UInt8] {
        frame(4, payload: pairs.flatMap { id, value in
            [UInt8(id >> 8), UInt8(id & 0xFF), UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF),
             UInt8(value & 0xFF)]
        })
    }

    private static func frame(_ type: UInt8, payload: [UInt8]) -> [UInt8] { frame(type, flags: 0, stream: 0, payload) }

    /// HPACK: `:method GET`, `:scheme http`, `:path` (literal), `:authority x` (literal, not indexed).
    static func requestBlock(path: String = "/ping") -> [UInt8] {
        [0x82, 0x86, 0x04, UInt8(path.utf8.count)] + Array(path.utf8) + [0x01, 0x01, UInt8(ascii: "x")]
    }

    static func headers(stream: UInt32, endStream: Bool = true, endHeaders: Bool = true, path: String = "/ping")
        -> [UInt8]
    {
        frame(1, flags: (endStream ? 0x1 : 0) | (endHeaders ? 0x4 : 0), stream: stream, requestBlock(path: path))
    }

    static func reset(stream: UInt32) -> [UInt8] { frame(3, stream: stream, [0, 0, 0, 8]) }
    static func ping() -> [UInt8] { frame(6, stream: 0, [UInt8](repeating: 7, count: 8)) }
    static func continuation(stream: UInt32) -> [UInt8] { frame(9, stream: stream, []) }
}

@Suite(.serialized) struct HTTP2AbuseTests {
    /// Opens an h2c connection, sends `flood`, and expects the gateway to close it, count `kind`, and keep serving
    /// a parallel client.
    private func expectCutOff(_ kind: ProtocolStats.Abuse, flood: [UInt8]) async throws {
        let edge = try await EdgeFixture.start()
        defer { Task { await edge.stop() } }
        let socket = try TestSocket(port: edge.h2cPort, timeout: 10)
        try? await socket.send(H2Frame.preface + H2Frame.settings())
        try? await socket.send(flood)
        #expect(try await socket.waitForClose(), "the connection stayed open")
        #expect(edge.gateway.http2Abuse(kind) == 1)
        let other = try await Command.run(
            EdgeFixture.curl, ["-sS", "--http2-prior-knowledge", "http://127.0.0.1:\(edge.h2cPort)/ping"])
        #expect(other.stdout.contains("pong"))
        #expect(String(decoding: edge.gateway.metricsText(), as: UTF8.self).contains("sluice_http2_abuse_\(kind.rawValue)_total 1"))
    }

    @Test func rapidResetIsCutOff() async throws {
        var flood: [UInt8] = []
        for index in 0..<400 {
            let stream = UInt32(2 * index + 1)
            flood += H2Frame.headers(stream: stream, endStream: false) + H2Frame.reset(stream: stream)
        }
        try await expectCutOff(.rapidReset, flood: flood)
    }

    @Test func pingFloodIsCutOff() async throws {
        try await expectCutOff(.controlFrameFlood, flood: (0..<1000).flatMap { _ in H2Frame.ping() })
    }

    @Test func settingsFloodIsCutOff() async throws {
        try await expectCutOff(.controlFrameFlood, flood: (0..<1000).flatMap { _ in H2Frame.settings() })
    }

    @Test func continuationFloodIsCutOff() async throws {
        let flood = H2Frame.headers(stream: 1, endStream: true, endHeaders: false)
            + (0..<100).flatMap { _ in H2Frame.continuation(stream: 1) }
        try await expectCutOff(.continuationFlood, flood: flood)
    }

    /// A client that opens no window (SETTINGS_INITIAL_WINDOW_SIZE 0) for a large answer: the stream is reset once
    /// the route's idle timeout passes without progress, and other clients are served meanwhile.
    @Test func zeroWindowStallIsResetAfterTheIdleTimeout() async throws {
        let edge = try await EdgeFixture.start(routeExtra: "idle_timeout = 1s\n")
        defer { Task { await edge.stop() } }
        let socket = try TestSocket(port: edge.h2cPort, timeout: 10)
        try await socket.send(H2Frame.preface + H2Frame.settings([(0x4, 0)]) + H2Frame.headers(stream: 1, path: "/bytes/10m"))
        let started = ContinuousClock.now
        let other = try await Command.run(
            EdgeFixture.curl, ["-sS", "--http2-prior-knowledge", "http://127.0.0.1:\(edge.h2cPort)/ping"])
        #expect(other.stdout.contains("pong"))
        // Read frames until RST_STREAM on stream 1 (type 3) or a GOAWAY (type 7).
        var buffer: [UInt8] = []
        var sawReset = false
        while !sawReset, let chunk = socket.readChunk() {
            buffer += chunk
            while buffer.count >= 9 {
                let length = Int(buffer[0]) << 16 | Int(buffer[1]) << 8 | Int(buffer[2])
                guard buffer.count >= 9 + length else { break }
                let type = buffer[3]
                let stream = UInt32(buffer[5] & 0x7F) << 24 | UInt32(buffer[6]) << 16 | UInt32(buffer[7]) << 8
                    | UInt32(buffer[8])
                if (type == 3 && stream == 1) || type == 7 { sawReset = true }
                buffer.removeFirst(9 + length)
            }
        }
        #expect(sawReset, "the stalled stream was never reset")
        #expect(ContinuousClock.now - started < .seconds(8))
    }
}
