import NIOHTTP1
import SluiceServer
import Testing

@Suite struct ResponseFramingTests {
    private func frame(
        _ status: HTTPResponseStatus, _ fields: [(String, String)], method: HTTPMethod = .GET,
        version: HTTPVersion = .http1_1, keepAlive: Bool = true
    ) -> (HTTPHeaders, ResponseFraming) {
        var head = HTTPResponseHead(version: .http1_1, status: status, headers: HTTPHeaders(fields))
        let framing = ResponseFraming.frame(&head, method: method, version: version, keepAlive: keepAlive)
        return (head.headers, framing)
    }

    @Test func lengthStandsAndChunkingIsAddedWithoutOne() {
        let (withLength, a) = frame(.ok, [("Content-Length", "2"), ("Transfer-Encoding", "chunked")])
        #expect(withLength["content-length"] == ["2"] && withLength["transfer-encoding"].isEmpty && !a.dropsBody)
        let (without, b) = frame(.ok, [])
        #expect(without["transfer-encoding"] == ["chunked"] && !b.closesConnection)
    }

    @Test func headAnd304KeepTheirLengthButSendNoBody() {
        let (head, a) = frame(.ok, [("Content-Length", "10"), ("Transfer-Encoding", "chunked")], method: .HEAD)
        #expect(head["content-length"] == ["10"] && head["transfer-encoding"].isEmpty && a.dropsBody)
        let (headChunked, b) = frame(.ok, [("Transfer-Encoding", "chunked")], method: .HEAD)
        #expect(headChunked["transfer-encoding"].isEmpty, "no terminating chunk may follow a HEAD answer")
        #expect(b.dropsBody && !b.closesConnection)
        let (notModified, c) = frame(.notModified, [("Content-Length", "10")])
        #expect(notModified["content-length"] == ["10"] && c.dropsBody)
    }

    @Test func noContentAndInterimCarryNoFraming() {
        let (noContent, a) = frame(.noContent, [("Content-Length", "0"), ("Transfer-Encoding", "chunked")])
        #expect(noContent["content-length"].isEmpty && noContent["transfer-encoding"].isEmpty && a.dropsBody)
    }

    @Test func http10WithoutLengthClosesAndKeepAliveIsSaid() {
        let (unknown, a) = frame(.ok, [("Transfer-Encoding", "chunked")], version: .http1_0)
        #expect(unknown["transfer-encoding"].isEmpty && unknown["connection"] == ["close"] && a.closesConnection)
        let (known, b) = frame(.ok, [("Content-Length", "3")], version: .http1_0)
        #expect(known["connection"] == ["keep-alive"] && !b.closesConnection)
        let (closing, c) = frame(.ok, [("Content-Length", "3")], version: .http1_0, keepAlive: false)
        #expect(closing["connection"] == ["close"] && c.closesConnection)
    }

    @Test func anAnswerThatSaysCloseCloses() {
        let (_, framing) = frame(.ok, [("Content-Length", "3"), ("Connection", "close")])
        #expect(framing.closesConnection)
    }
}
