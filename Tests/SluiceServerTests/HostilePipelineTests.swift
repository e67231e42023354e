import NIOCore
import NIOEmbedded
import NIOHTTP1
import SluiceServer
import Testing

/// Records the request heads the application got, and answers each with `200` and a body (or holds it).
final class RecordingApp: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    var heads: [HTTPRequestHead] = []
    var bodies: [String] = []
    /// Answer twice (a buggy application), to see the second never reach the wire.
    var answerTwice = false
    /// Answer as soon as the head arrives, before the body.
    var answerEarly = false
    /// Leave out `Content-Length` (the server must frame it).
    var unframed = false
    /// The version the application writes in its answer heads.
    var answerVersion = HTTPVersion.http1_1
    /// Say `Connection: close` in every answer.
    var sayClose = false
    /// Hold answers until `answerHeld()` (an application that answers later, like the proxy).
    var hold = false
    private var heldContext: ChannelHandlerContext?

    func answerHeld() {
        guard let context = heldContext else { return }
        heldContext = nil
        answer(context, status: .ok)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            heads.append(head)
            bodies.append("")
            if answerEarly { answer(context, status: .notFound) }
        case .body(let buffer):
            bodies[bodies.count - 1] += String(buffer: buffer)
        case .end:
            if answerEarly { return }
            if hold {
                heldContext = context
                return
            }
            answer(context, status: .ok)
            if answerTwice { answer(context, status: .requestTimeout) }
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }

    var errors: [any Error] = []

    private func answer(_ context: ChannelHandlerContext, status: HTTPResponseStatus) {
        var headers = HTTPHeaders()
        if !unframed { headers.add(name: "content-length", value: "2") }
        if sayClose { headers.add(name: "connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: answerVersion, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}

struct HostileChannel {
    let channel = EmbeddedChannel()
    let app = RecordingApp()

    init(_ configuration: ServerConfiguration = ServerConfiguration()) throws {
        try HTTPServer.configureHTTP(channel: channel, configuration: configuration)
        try channel.pipeline.syncOperations.addHandler(app)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ text: String) throws { try channel.writeInbound(ByteBuffer(string: text)) }

    func output() throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    var isOpen: Bool { channel.isActive }
}

extension String {
    func occurrences(of needle: String) -> Int {
        let haystack = Array(utf8)
        let pattern = Array(needle.utf8)
        guard !pattern.isEmpty, haystack.count >= pattern.count else { return 0 }
        return (0...(haystack.count - pattern.count)).filter { haystack[$0..<$0 + pattern.count].elementsEqual(pattern) }.count
    }
}

@Suite struct HostilePipelineTests {
    @Test func anUpgradeRequestDoesNotFreezeTheParser() throws {
        let connection = try HostileChannel()
        try connection.send(
            "GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n"
                + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(connection.app.heads.map(\.uri) == ["/ws", "/next"], "the request after the upgrade is parsed as one")
        #expect(try connection.output().occurrences(of: "HTTP/1.1 200 OK") == 2)
        // And again, split across reads, with a body on the upgrade request.
        try connection.send("POST /ws2 HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\nConnection: upgrade\r\nContent-Length: 3\r\n\r\nab")
        try connection.send("cGET /after HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(connection.app.heads.map(\.uri).suffix(2) == ["/ws2", "/after"])
        #expect(connection.app.bodies[2] == "abc")
        #expect(connection.isOpen)
    }

    @Test func connectIs405AndCloses() throws {
        let connection = try HostileChannel()
        try connection.send("CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n")
        let output = try connection.output()
        #expect(output.hasPrefix("HTTP/1.1 405 Method Not Allowed"))
        #expect(output.lowercased().contains("allow: "))
        #expect(connection.app.heads.isEmpty)
        #expect(!connection.isOpen)
    }

    @Test func theSecondAnswerToOneRequestNeverReachesTheWire() throws {
        let connection = try HostileChannel()
        connection.app.answerTwice = true
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        let output = try connection.output()
        #expect(output.occurrences(of: "HTTP/1.1 200 OK") == 2)
        #expect(output.occurrences(of: "408") == 0)
    }

    @Test func anEarlyAnswerIsNotFollowedByA408() throws {
        var configuration = ServerConfiguration()
        configuration.bodyReadTimeout = .seconds(5)
        let connection = try HostileChannel(configuration)
        connection.app.answerEarly = true
        try connection.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\nab")
        connection.channel.read()
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        let output = try connection.output()
        #expect(output.hasPrefix("HTTP/1.1 404 Not Found"))
        #expect(output.occurrences(of: "HTTP/1.1") == 1, "one answer per request: no 408 after the 404")
    }

    @Test func headAnswersCarryNoBodyAndNoChunkTerminator() throws {
        let connection = try HostileChannel()
        connection.app.unframed = true
        try connection.send("HEAD /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let output = try connection.output()
        #expect(output.hasPrefix("HTTP/1.1 200 OK"))
        #expect(output.hasSuffix("\r\n\r\n"), "nothing after the head: \(output.debugDescription)")
        #expect(!output.lowercased().contains("transfer-encoding"))
    }

    @Test func anUnframedAnswerIsChunkedFor11AndClosedFor10() throws {
        let connection = try HostileChannel()
        connection.app.unframed = true
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let chunked = try connection.output()
        #expect(chunked.lowercased().contains("transfer-encoding: chunked") && chunked.hasSuffix("0\r\n\r\n"))
        let old = try HostileChannel()
        old.app.unframed = true
        try old.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let closed = try old.output()
        #expect(!closed.lowercased().contains("transfer-encoding"))
        #expect(closed.lowercased().contains("connection: close") && closed.hasSuffix("ok"))
        #expect(!old.isOpen, "an HTTP/1.0 body without a length ends with the connection")
    }

    /// Found by FuzzHTTP: an application head in HTTP/1.0 to a 1.1 request was framed chunked but sent raw.
    @Test func answersGoOutInHTTP11FramedAsTheyClaim() throws {
        let connection = try HostileChannel()
        connection.app.unframed = true
        connection.app.answerVersion = .http1_0
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        let output = try connection.output()
        #expect(output.hasPrefix("HTTP/1.1 200 OK"))
        #expect(output.lowercased().contains("transfer-encoding: chunked") && output.hasSuffix("2\r\nok\r\n0\r\n\r\n"))
    }

    /// Found by FuzzHTTP: after an answer that says `Connection: close`, no further request reaches the
    /// application and nothing more is written (RFC 9112 §9.6).
    @Test func nothingAfterAnAnswerThatSaysClose() throws {
        let connection = try HostileChannel()
        connection.app.sayClose = true
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(connection.app.heads.map(\.uri) == ["/a"])
        let output = try connection.output()
        #expect(output.occurrences(of: "HTTP/1.1 ") == 1)
        #expect(!connection.isOpen)
    }

    /// Found by FuzzHTTP and FuzzGateway: garbage after a HEAD gets a 400 with its body; after an answer that said
    /// `Connection: close` it gets nothing.
    @Test func garbageAfterHeadAndAfterClose() throws {
        let head = try HostileChannel()
        try head.send("HEAD /b HTTP/1.1\r\nHost: x\r\n\r\nGARBAGE\r\n\r\n")
        let output = try head.output()
        #expect(output.occurrences(of: "HTTP/1.1 ") == 2)
        #expect(output.hasSuffix("400 Bad Request\n"), "the 400 answers no HEAD: it has its body")
        let refused = try HostileChannel()
        try refused.send("HEAD /b HTTP/1.1\r\nHort: x\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\nC\u{7F}nnection: close\r\n\r\n")
        #expect(try refused.output().occurrences(of: "HTTP/1.1 ") == 1, "one 400 (no Host), nothing after it")
        let closed = try HostileChannel()
        try closed.send("HEAD /b HTTP/1.0\r\n\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n")
        let after = try closed.output()
        #expect(after.occurrences(of: "HTTP/1.1 ") == 1 && after.lowercased().contains("connection: close"))
        #expect(!closed.isOpen)
    }

    @Test func http10KeepAliveIsAnsweredAsKeepAlive() throws {
        let connection = try HostileChannel()
        try connection.send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(try connection.output().lowercased().contains("connection: keep-alive"))
        #expect(connection.isOpen)
    }

    @Test func aHalfClosedClientIsAnsweredThenClosed() throws {
        let connection = try HostileChannel()
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try connection.output().hasPrefix("HTTP/1.1 200 OK"))
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(!connection.isOpen, "idle after its answer: closed")
    }

    @Test func tooManyHeaderFieldsIs431() throws {
        var configuration = ServerConfiguration()
        configuration.maxHeaders = 10
        let connection = try HostileChannel(configuration)
        let fields = (0..<11).map { "X-\($0): v\r\n" }.joined()
        try connection.send("GET / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n")
        #expect(try connection.output().hasPrefix("HTTP/1.1 431"))
        #expect(connection.app.heads.isEmpty)
    }

    @Test func framingReachesTheApplicationCanonical() throws {
        let connection = try HostileChannel()
        try connection.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 003\r\n\r\nabc")
        #expect(connection.app.heads.first?.headers["content-length"] == ["3"])
        #expect(connection.app.bodies.first == "abc")
    }

    @Test func theWholeRequestMustArriveWithinRequestTimeout() throws {
        var configuration = ServerConfiguration()
        configuration.requestTimeout = .seconds(3)
        configuration.bodyReadTimeout = .seconds(2)
        let connection = try HostileChannel(configuration)
        try connection.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\na")
        for _ in 0..<2 {
            connection.channel.read()
            connection.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
            try connection.send("b")  // a byte a second: never stalled for the body timeout
        }
        #expect(try connection.output().isEmpty)
        connection.channel.read()
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(1))
        #expect(try connection.output().hasPrefix("HTTP/1.1 408"))
        #expect(connection.app.errors.contains { ($0 as? HTTPServerError) == .requestReadTimeout })
    }
}

@Suite struct PipelineErrorTests {
    @Test func garbageAfterARequestStillLetsItBeAnswered() throws {
        let connection = try HostileChannel()
        connection.app.hold = true
        try connection.send("GET / HTTP/1.1\r\nHost: h\r\n\r\nGARBAGE\r\n\r\n")
        #expect(connection.app.heads.count == 1)
        #expect(connection.isOpen, "the first request is still being answered")
        connection.app.answerHeld()
        let output = try connection.output()
        #expect(output.hasPrefix("HTTP/1.1 200 OK"), "\(output)")
        #expect(output.occurrences(of: "HTTP/1.1 ") == 2, "then the garbage gets its 400: \(output)")
        #expect(!connection.isOpen)
    }
}
