import NIOHTTP1
import SluiceServer
import Testing

@Suite struct RequestHeadCheckTests {
    private func head(
        _ method: HTTPMethod, _ uri: String, version: HTTPVersion, _ fields: [(String, String)]
    ) -> HTTPRequestHead {
        HTTPRequestHead(version: version, method: method, uri: uri, headers: HTTPHeaders(fields))
    }

    private func head(_ method: HTTPMethod, _ fields: [(String, String)]) -> HTTPRequestHead {
        head(method, "/", version: .http1_1, fields)
    }

    private func head(_ method: HTTPMethod, version: HTTPVersion, _ fields: [(String, String)]) -> HTTPRequestHead {
        head(method, "/", version: version, fields)
    }

    private func status(_ head: HTTPRequestHead, maxHeaders: Int = 100) -> UInt? {
        switch RequestHeadCheck.check(head, maxHeaders: maxHeaders) {
        case .success: nil
        case .failure(let rejected): rejected.status.code
        }
    }

    struct Row: Sendable, CustomTestStringConvertible {
        var name: String
        var method: HTTPMethod = .GET
        var uri = "/"
        var version = HTTPVersion.http1_1
        var fields: [(String, String)]
        var status: UInt?
        var testDescription: String { name }
    }

    static let rows: [Row] = [
        Row(name: "plain", fields: [("Host", "h")], status: nil),
        Row(name: "two hosts", fields: [("Host", "a"), ("Host", "b")], status: 400),
        Row(name: "no host 1.1", fields: [], status: 400),
        Row(name: "no host 1.0", version: .http1_0, fields: [], status: nil),
        Row(name: "host with path", fields: [("Host", "a/b")], status: 400),
        Row(name: "host with userinfo", fields: [("Host", "u@a")], status: 400),
        Row(name: "host with port", fields: [("Host", "a.example:8080")], status: nil),
        Row(name: "host ipv6", fields: [("Host", "[::1]:80")], status: nil),
        Row(name: "host bad port", fields: [("Host", "a:8x")], status: 400),
        Row(name: "empty host", fields: [("Host", "")], status: nil),
        Row(name: "connect", method: .CONNECT, uri: "a:443", fields: [("Host", "a:443")], status: 405),
        Row(name: "asterisk options", method: .OPTIONS, uri: "*", fields: [("Host", "h")], status: nil),
        Row(name: "asterisk get", uri: "*", fields: [("Host", "h")], status: 400),
        Row(name: "absolute same host", uri: "http://h/x", fields: [("Host", "h")], status: nil),
        Row(name: "absolute other host", uri: "http://other/x", fields: [("Host", "h")], status: 400),
        Row(name: "absolute userinfo", uri: "http://u@h/x", fields: [("Host", "h")], status: 400),
        Row(name: "absolute ftp", uri: "ftp://h/x", fields: [("Host", "h")], status: 400),
        Row(name: "authority form on get", uri: "h:80", fields: [("Host", "h")], status: 400),
        Row(name: "cl digits", method: .POST, fields: [("Host", "h"), ("Content-Length", "5")], status: nil),
        Row(name: "cl leading zeros", method: .POST, fields: [("Host", "h"), ("Content-Length", "005")], status: nil),
        Row(name: "cl trailing space", method: .POST, fields: [("Host", "h"), ("Content-Length", "5 ")], status: nil),
        Row(name: "cl plus", method: .POST, fields: [("Host", "h"), ("Content-Length", "+5")], status: 400),
        Row(name: "cl negative", method: .POST, fields: [("Host", "h"), ("Content-Length", "-5")], status: 400),
        Row(name: "cl hex", method: .POST, fields: [("Host", "h"), ("Content-Length", "0x5")], status: 400),
        Row(name: "cl list", method: .POST, fields: [("Host", "h"), ("Content-Length", "5, 5")], status: 400),
        Row(name: "cl twice", method: .POST, fields: [("Host", "h"), ("Content-Length", "5"), ("Content-Length", "5")], status: 400),
        Row(name: "cl huge", method: .POST, fields: [("Host", "h"), ("Content-Length", "99999999999999999999")], status: 400),
        Row(name: "cl empty", method: .POST, fields: [("Host", "h"), ("Content-Length", "")], status: 400),
        Row(name: "te chunked", method: .POST, fields: [("Host", "h"), ("Transfer-Encoding", "chunked")], status: nil),
        Row(name: "te Chunked", method: .POST, fields: [("Host", "h"), ("Transfer-Encoding", "Chunked")], status: nil),
        Row(name: "te gzip chunked", method: .POST, fields: [("Host", "h"), ("Transfer-Encoding", "gzip, chunked")], status: 501),
        Row(name: "te chunked gzip", method: .POST, fields: [("Host", "h"), ("Transfer-Encoding", "chunked, gzip")], status: 400),
        Row(name: "te identity", method: .POST, fields: [("Host", "h"), ("Transfer-Encoding", "identity")], status: 400),
        Row(name: "te empty element", method: .POST, fields: [("Host", "h"), ("Transfer-Encoding", ", chunked")], status: 400),
        Row(name: "te on 1.0", method: .POST, version: .http1_0, fields: [("Transfer-Encoding", "chunked")], status: 400),
        Row(name: "te and cl", method: .POST, fields: [("Host", "h"), ("Transfer-Encoding", "chunked"), ("Content-Length", "3")], status: 400),
        Row(name: "trace with body", method: .TRACE, fields: [("Host", "h"), ("Content-Length", "3")], status: 405),
        Row(name: "trace chunked", method: .TRACE, fields: [("Host", "h"), ("Transfer-Encoding", "chunked")], status: 405),
        Row(name: "trace plain", method: .TRACE, fields: [("Host", "h")], status: nil),
        Row(name: "expect continue", method: .POST, fields: [("Host", "h"), ("Expect", "100-Continue"), ("Content-Length", "1")], status: nil),
        Row(name: "expect other", fields: [("Host", "h"), ("Expect", "teapot")], status: 417),
        Row(name: "upgrade", fields: [("Host", "h"), ("Upgrade", "websocket"), ("Connection", "Upgrade")], status: nil),
        Row(name: "upgrade ambiguous", fields: [("Host", "h"), ("Upgrade", "websocket"), ("Connection", "x-upgrade")], status: 400),
    ]

    @Test(arguments: rows)
    func table(_ row: Row) {
        #expect(status(head(row.method, row.uri, version: row.version, row.fields)) == row.status)
    }

    @Test func tooManyFieldsIs431() {
        let fields = (0..<101).map { ("X-\($0)", "v") } + [("Host", "h")]
        #expect(status(head(.GET, fields), maxHeaders: 100) == 431)
        #expect(status(head(.GET, Array(fields.suffix(100))), maxHeaders: 100) == nil)
    }

    @Test func framingLeavesCanonical() throws {
        let checked = try RequestHeadCheck.check(head(.POST, [("Host", "h"), ("Content-Length", " 007 ")]), maxHeaders: 100).get()
        #expect(checked.rewritten)
        #expect(checked.body == .length(7))
        #expect(checked.head.headers["content-length"] == ["7"])
        let chunked = try RequestHeadCheck.check(head(.POST, [("Host", "h"), ("Transfer-Encoding", "CHUNKED")]), maxHeaders: 100).get()
        #expect(chunked.body == .chunked && chunked.head.headers["transfer-encoding"] == ["chunked"])
        let plain = try RequestHeadCheck.check(head(.POST, [("Host", "h"), ("Content-Length", "12")]), maxHeaders: 100).get()
        #expect(!plain.rewritten && plain.body == .length(12))
        let zero = try RequestHeadCheck.check(head(.POST, [("Host", "h"), ("Content-Length", "0")]), maxHeaders: 100).get()
        #expect(zero.body == .none)
    }

    @Test func expectationsAndUpgrade() throws {
        let continued = try RequestHeadCheck.check(
            head(.POST, [("Host", "h"), ("Expect", "100-continue"), ("Content-Length", "1")]), maxHeaders: 100).get()
        #expect(continued.expectsContinue)
        let old = try RequestHeadCheck.check(
            head(.POST, version: .http1_0, [("Expect", "100-continue"), ("Content-Length", "1")]), maxHeaders: 100).get()
        #expect(!old.expectsContinue, "HTTP/1.0 clients get no 100 Continue")
        let upgrade = try RequestHeadCheck.check(
            head(.GET, [("Host", "h"), ("Upgrade", "h2c"), ("Connection", "keep-alive, Upgrade")]), maxHeaders: 100).get()
        #expect(upgrade.asksForUpgrade)
        #expect(!RequestHeadCheck.asksForUpgrade(HTTPHeaders([("Upgrade", "h2c")])), "llhttp wants the Connection token too")
    }

    @Test func targetForms() {
        #expect(RequestHeadCheck.originForm(of: "http://h:8080/a/b?c=d") == "/a/b?c=d")
        #expect(RequestHeadCheck.originForm(of: "HTTPS://h?c") == "/?c")
        #expect(RequestHeadCheck.originForm(of: "http://h") == "/")
        #expect(RequestHeadCheck.originForm(of: "/plain") == "/plain")
        #expect(RequestHeadCheck.authority(of: "http://h:8080/a") == "h:8080")
        #expect(RequestHeadCheck.authority(of: "/a") == nil)
    }
}
