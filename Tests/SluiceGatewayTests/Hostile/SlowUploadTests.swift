import Logging
import SluiceConfig
import SluiceGateway
import SluiceTestSupport
import Testing

/// Slow uploads must neither hold upstream connections (small bodies are read whole first) nor count as a slow
/// upstream (latency runs from the moment the request was fully sent).
@Suite(.serialized) struct SlowUploadTests {
    private func withGateway(
        bufferSize: String, _ body: (_ port: Int, _ upstream: RecordingUpstream) async throws -> Void
    ) async throws {
        let upstream = try await RecordingUpstream.start()
        do {
            try await withConfiguredGateway(
            """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            request_buffer_size = \(bufferSize)

            [upstream rec]
            server = 127.0.0.1:\(upstream.port)

            [route up]
            match = /*
            upstream = rec
            degrade = slow=100ms ratio=50% window=10s min_requests=4 recovery=10s
            """) { port in
                try await body(port, upstream)
            }
        } catch {
            await upstream.stop()
            throw error
        }
        await upstream.stop()
    }

    /// Six uploads that each take over 150 ms to send, then a plain request: not degraded.
    private func slowUploads(port: Int, upstream: RecordingUpstream, whileSending: (Int) -> Void) async throws {
        for index in 0..<6 {
            let socket = try TestSocket(port: port)
            try await socket.send("POST /up/\(index) HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nabcde")
            try await Task.sleep(for: .milliseconds(160))
            whileSending(index)
            try await socket.send("fghij")
            let response = try await socket.readResponse()
            #expect(response.status == 200)
        }
        let after = try await TestHTTP.request(port: port, "GET", "/after")
        #expect(after.status == 200 && after.header("sluice-degraded") == nil, "slow uploads are not a slow upstream")
        #expect(upstream.requests.count == 7)
        #expect(upstream.requests.first?.body == Array("abcdefghij".utf8))
    }

    @Test func smallBodiesAreReadBeforeAnUpstreamConnectionIsTaken() async throws {
        try await withGateway(bufferSize: "64k") { port, upstream in
            try await slowUploads(port: port, upstream: upstream) { index in
                if index == 0 { #expect(upstream.connections == 0, "a half-sent small body holds no upstream connection") }
            }
        }
    }

    /// A body larger than the connect-time buffer but within request_buffer_size, sent while the gates hold the
    /// request (a fault delay): reads paused during the gates must resume, or the request stalls.
    @Test func aBufferedBodyArrivingDuringTheGatesIsReadWhole() async throws {
        let upstream = try await RecordingUpstream.start()
        do {
            try await withConfiguredGateway(
                """
                [server]
                listen = 127.0.0.1:0
                access_log = off
                request_buffer_size = 1m

                [upstream rec]
                server = 127.0.0.1:\(upstream.port)

                [route up]
                match = /*
                upstream = rec
                fault = delay=200ms percent=100
                """
            ) { port in
                let body = String(repeating: "x", count: 300_000)
                let response = try await TestHTTP.request(port: port, "POST", "/big", body: body)
                #expect(response.status == 200)
                #expect(upstream.requests.first?.body.count == 300_000)
            }
        } catch {
            await upstream.stop()
            throw error
        }
        await upstream.stop()
    }

    @Test func streamedBodiesAreTimedFromTheirEnd() async throws {
        try await withGateway(bufferSize: "4") { port, upstream in
            try await slowUploads(port: port, upstream: upstream) { index in
                if index == 0 { #expect(upstream.connections == 1, "a body past request_buffer_size streams") }
            }
        }
    }
}
