import Logging
import SluiceConfig
import SluiceGateway
import SluiceTestSupport
import Testing

/// Upstream answers that cannot be right: the pooled connection is discarded, never reused with bytes pending, and
/// the client gets a 502 or a cleanly cut connection, never another request's answer.
@Suite(.serialized) struct BrokenUpstreamTests {
    static let clean = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nclean"

    /// Runs `body` against a gateway whose one upstream answers the first request with `first` (then `clean`).
    private func withUpstream(
        first: String, closeAfterFirst: Bool = false, _ body: (_ port: Int, _ upstream: ScriptedUpstream) async throws -> Void
    ) async throws {
        let upstream = try await ScriptedUpstream.start { index, _ in
            index == 0 ? (first, closeAfterFirst) : (Self.clean, false)
        }
        do {
            try await withConfiguredGateway(
            """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            workers = 1

            [upstream up]
            server = 127.0.0.1:\(upstream.port)

            [route all]
            match = /*
            upstream = up
            retries = 0
            timeout = 2s
            """) { port in
                try await body(port, upstream)
            }
        } catch {
            await upstream.stop()
            throw error
        }
        await upstream.stop()
    }

    private func exchange(_ port: Int, _ text: String, expected: Int, head: Bool = false) async throws -> RawHTTPClient.Exchange {
        try await offload {
            try RawHTTPClient.exchange(port: port, bytes: Array(text.utf8), expected: expected, headRequest: head)
        }
    }

    private let get = "GET /a HTTP/1.1\r\nHost: h\r\n\r\n"

    @Test func anUnsolicited101IsA502() async throws {
        try await withUpstream(first: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\nraw") {
            port, _ in
            let first = try await exchange(port, get, expected: 1)
            #expect(first.responses.first?.status == 502)
            let next = try await exchange(port, get, expected: 1)
            #expect(next.responses.first.map { String(decoding: $0.body, as: UTF8.self) } == "clean")
        }
    }

    @Test func aSmuggledSecondResponseReachesNobody() async throws {
        try await withUpstream(
            first: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\nX-Evil: 1\r\n\r\nevil"
        ) { port, _ in
            let both = try await exchange(port, get + get, expected: 2)
            #expect(both.responses.map(\.status) == [200, 200])
            #expect(both.responses.map { String(decoding: $0.body, as: UTF8.self) } == ["ok", "clean"])
            #expect(both.responses.allSatisfy { $0.header("x-evil") == nil })
        }
    }

    @Test func aBodyOnAHeadAnswerIsNotRelayedOrReused() async throws {
        try await withUpstream(first: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nbody") { port, _ in
            let head = try await exchange(port, "HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n", expected: 1, head: true)
            #expect(head.responses.first?.status == 200 && head.garbage == 0, "nothing after the head")
            let next = try await exchange(port, get, expected: 1)
            #expect(next.responses.first.map { String(decoding: $0.body, as: UTF8.self) } == "clean")
        }
    }

    @Test func aBodyOn204IsDropped() async throws {
        try await withUpstream(first: "HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil") {
            port, _ in
            let both = try await exchange(port, get + get, expected: 2)
            #expect(both.responses.map(\.status) == [204, 200])
            #expect(both.responses.last.map { String(decoding: $0.body, as: UTF8.self) } == "clean")
        }
    }

    @Test func aShortBodyCutsTheClientOff() async throws {
        try await withUpstream(first: "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", closeAfterFirst: true) { port, _ in
            let cut = try await exchange(port, get, expected: 1)
            #expect(cut.responses.isEmpty, "the response never completes")
            #expect(cut.closed, "the client connection is cut, so the client knows")
        }
    }

    /// Found by FuzzGateway: garbage after a request whose answer streams (here close-delimited upstream, so
    /// chunked to the client) must not cut that answer short; the garbage gets its 400 after it.
    @Test func garbageAfterAStreamedAnswerDoesNotTruncateIt() async throws {
        try await withUpstream(first: "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nstreamed body", closeAfterFirst: true) {
            port, _ in
            let exchange = try await exchange(port, get + "GARBAGE\r\n\r\n", expected: 2)
            #expect(exchange.responses.map(\.status) == [200, 400])
            #expect(exchange.responses.first.map { String(decoding: $0.body, as: UTF8.self) } == "streamed body")
            #expect(exchange.garbage == 0)
        }
    }

    @Test func garbageAfterAnUpgradeRequestIsAnsweredAfterIt() async throws {
        try await withUpstream(first: Self.clean) { port, _ in
            let upgrade = "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
            let exchange = try await exchange(port, upgrade + "0GET /after HTTP/2.1\r\nHost: x\r\n\r\n", expected: 2)
            #expect(exchange.responses.map(\.status) == [200, 400])
            #expect(exchange.responses.first.map { String(decoding: $0.body, as: UTF8.self) } == "clean")
        }
    }

    @Test func garbageIsA502() async throws {
        try await withUpstream(first: "NOT HTTP AT ALL\r\n\r\n") { port, _ in
            let first = try await exchange(port, get, expected: 1)
            #expect(first.responses.first?.status == 502)
        }
    }
}
