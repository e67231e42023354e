import Foundation
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// HTTP/2 requests that must not desync an HTTP/1.1 upstream, and the RFC 8441 marker that must not pass.
@Suite(.serialized) struct HTTP2SmugglingTests {
    private func gateway(upstream: Int) async throws -> (Gateway, Int) {
        try await makeGateway(
            """
            [server]
            listen = 127.0.0.1:0 h2c
            access_log = off
            drain_timeout = 1s
            [upstream rec]
            server = 127.0.0.1:\(upstream)
            [route all]
            match = /*
            upstream = rec
            """)
    }

    /// Reads from `socket` until the gateway has answered `count` streams (HEADERS with END_STREAM, or DATA with it).
    private func awaitAnswers(_ socket: TestSocket, count: Int) {
        var buffer: [UInt8] = []
        var ended = Set<UInt32>()
        while ended.count < count, let chunk = socket.readChunk() {
            buffer += chunk
            while buffer.count >= 9 {
                let length = Int(buffer[0]) << 16 | Int(buffer[1]) << 8 | Int(buffer[2])
                guard buffer.count >= 9 + length else { break }
                let stream = UInt32(buffer[5] & 0x7F) << 24 | UInt32(buffer[6]) << 16 | UInt32(buffer[7]) << 8
                    | UInt32(buffer[8])
                if (buffer[3] == 0 || buffer[3] == 1) && buffer[4] & 0x1 != 0 { ended.insert(stream) }
                buffer.removeFirst(9 + length)
            }
        }
    }

    @Test func aGetWithDataFramesIsFramedUpstreamNotSmuggled() async throws {
        let upstream = try await RecordingUpstream.start()
        let (gateway, port) = try await gateway(upstream: upstream.port)
        let socket = try TestSocket(port: port, timeout: 10)
        let smuggled = Array("POST /admin HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n".utf8)
        // GET without END_STREAM and without a length, then a DATA frame holding a whole HTTP/1.1 request.
        try await socket.send(
            H2Frame.preface + H2Frame.settings() + H2Frame.headers(stream: 1, endStream: false, path: "/")
                + H2Frame.frame(0, flags: 0x1, stream: 1, smuggled)
                + H2Frame.headers(stream: 3, endStream: true, path: "/next"))
        awaitAnswers(socket, count: 2)
        let requests = upstream.requests
        #expect(!requests.contains { $0.uri == "/admin" }, "a request smuggled in DATA reached the upstream")
        #expect(upstream.garbage == 0)
        #expect(requests.map(\.uri).sorted() == ["/", "/next"])
        if let first = requests.first(where: { $0.uri == "/" }) {
            #expect(first.body == smuggled, "the DATA is the GET's body, framed as such")
        }
        await gateway.shutdown()
    }

    @Test func aForgedMarkerNeverReachesTheUpstream() async throws {
        let upstream = try await RecordingUpstream.start()
        let (gateway, port) = try await gateway(upstream: upstream.port)
        let h1 = try await TestHTTP.request(
            port: port, "GET", "/x", headers: [("Sluice-Extended-Connect", "websocket")])
        #expect(h1.status == 200)
        #expect(upstream.requests.last?.header("sluice-extended-connect") == nil)
        await gateway.shutdown()
    }
}
