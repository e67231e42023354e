import NIOCore
import NIOEmbedded
import NIOHTTP1
import SluiceServer
import Testing

/// Answers every complete request with `200 ok` unless told to hold the answer.
final class OKHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    var hold = false
    var errors: [any Error] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .end = unwrapInboundIn(data), !hold else { return }
        var headers = HTTPHeaders()
        headers.add(name: "content-length", value: "2")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        errors.append(error)
    }
}

/// Builds the server's real per-connection pipeline on an `EmbeddedChannel`, so limits and timers can be driven
/// byte by byte and with a fake clock.
struct GuardedChannel {
    let channel = EmbeddedChannel()
    let app = OKHandler()

    init(_ configuration: ServerConfiguration) throws {
        try HTTPServer.configureHTTP(channel: channel, configuration: configuration)
        try channel.pipeline.syncOperations.addHandler(app)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    }

    func send(_ text: String) throws {
        try channel.writeInbound(ByteBuffer(string: text))
    }

    /// Everything the server wrote so far, as text.
    func output() throws -> String {
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    var isOpen: Bool { channel.isActive }
}

@Suite struct RequestGuardTests {
    let configuration = ServerConfiguration(
        maxHeadSize: 1024, maxBodySize: 100, requestReadTimeout: .seconds(5), idleTimeout: .seconds(30))

    @Test func servesAPlainRequest() throws {
        let connection = try GuardedChannel(configuration)
        try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.output().hasPrefix("HTTP/1.1 200 OK"))
        #expect(connection.isOpen)
    }

    @Test func oversizedHeadGets431() throws {
        let connection = try GuardedChannel(configuration)
        let big = String(repeating: "a", count: 2000)
        try connection.send("GET / HTTP/1.1\r\nX-Big: \(big)\r\n\r\n")
        #expect(connection.app.errors.contains { ($0 as? HTTPParserError) == .headerOverflow })
        #expect(try connection.output().hasPrefix("HTTP/1.1 431 Request Header Fields Too Large"))
        #expect(!connection.isOpen)
    }

    @Test func malformedRequestGets400() throws {
        let connection = try GuardedChannel(configuration)
        try connection.send("GARBAGE\r\n\r\n")
        #expect(connection.app.errors.contains { $0 is HTTPParserError })
        let output = try connection.output()
        #expect(output.hasPrefix("HTTP/1.1 400 Bad Request"))
        #expect(output.lowercased().contains("connection: close"))
        #expect(!connection.isOpen)
    }

    @Test func declaredBodyTooLargeGets413BeforeTheBodyIsRead() throws {
        let connection = try GuardedChannel(configuration)
        try connection.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n")
        #expect(try connection.output().hasPrefix("HTTP/1.1 413 Payload Too Large"))
        #expect(!connection.isOpen)
    }

    @Test func chunkedBodyGrowingTooLargeGets413() throws {
        let connection = try GuardedChannel(configuration)
        connection.app.hold = true
        try connection.send("POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        try connection.send("40\r\n" + String(repeating: "x", count: 64) + "\r\n")
        #expect(try connection.output().isEmpty)
        try connection.send("40\r\n" + String(repeating: "x", count: 64) + "\r\n")
        #expect(try connection.output().hasPrefix("HTTP/1.1 413 Payload Too Large"))
        #expect(connection.app.errors.contains { ($0 as? HTTPServerError) == .requestBodyTooLarge })
        #expect(!connection.isOpen)
    }

    @Test func silentNewConnectionIsClosedAfterTheReadTimeout() throws {
        let connection = try GuardedChannel(configuration)
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(connection.isOpen)
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!connection.isOpen)
        #expect(try connection.output().isEmpty)
    }

    @Test func slowHeadIsCutOffAfterTheReadTimeout() throws {
        // Slow loris: a head that trickles in never completes within the read timeout.
        let connection = try GuardedChannel(configuration)
        for piece in ["GET / HT", "TP/1.1\r\n", "X-A: 1\r\n"] {
            try connection.send(piece)
            connection.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        }
        #expect(!connection.isOpen)
    }

    @Test func idleKeepAliveConnectionIsClosedAfterTheIdleTimeout() throws {
        let connection = try GuardedChannel(configuration)
        try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.output().hasPrefix("HTTP/1.1 200 OK"))
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(connection.isOpen, "between requests the idle timeout applies, not the read timeout")
        try connection.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try connection.output().hasPrefix("HTTP/1.1 200 OK"))
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(29))
        #expect(connection.isOpen, "the second request moved the deadline")
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(!connection.isOpen)
    }

    @Test func stalledBodyGets408() throws {
        let connection = try GuardedChannel(configuration)
        connection.app.hold = true
        try connection.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        connection.channel.read()  // the application wants more: from now on a silent client is stalling
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        try connection.send("de")
        connection.channel.read()  // as NIO's auto-read does after each read completes
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(4))
        #expect(connection.isOpen, "each body read moves the deadline")
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(2))
        #expect(try connection.output().hasPrefix("HTTP/1.1 408 Request Timeout"))
        #expect(!connection.isOpen)
    }

    @Test func bodyTimeoutWaitsWhileTheApplicationHoldsReads() throws {
        // A proxy pauses reading while its upstream is slow: the client is not stalling then, so no 408.
        let connection = try GuardedChannel(configuration)
        connection.app.hold = true
        try connection.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        connection.channel.pipeline.fireChannelReadComplete()  // a read completed; nobody asked for the next one
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(60))
        #expect(connection.isOpen)
        #expect(try connection.output().isEmpty)
        connection.channel.read()  // reading again: now the client's silence counts
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(6))
        #expect(try connection.output().hasPrefix("HTTP/1.1 408 Request Timeout"))
    }

    @Test func slowApplicationIsNotTimedOut() throws {
        let connection = try GuardedChannel(configuration)
        connection.app.hold = true
        try connection.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        connection.channel.embeddedEventLoop.advanceTime(by: .seconds(120))
        #expect(connection.isOpen, "the client waits for us; no client timer runs while we answer")
    }
}

@Suite struct TimeAmountTextTests {
    @Test(arguments: [
        ("500ms", TimeAmount.milliseconds(500)), ("2s", .seconds(2)), ("1m", .seconds(60)), ("1h", .hours(1)),
        ("1.5s", .milliseconds(1500)), ("100us", .microseconds(100)), ("3", .seconds(3)), (" 20ms ", .milliseconds(20)),
    ])
    func parses(text: String, expected: TimeAmount) {
        #expect(TimeAmount(text: text) == expected)
    }

    @Test(arguments: ["", "ms", "-1s", "abc", "1x", "1e300s"])
    func rejects(text: String) {
        #expect(TimeAmount(text: text) == nil)
    }

    @Test func printsShortForms() {
        #expect(TimeAmount.milliseconds(250).text == "250ms")
        #expect(TimeAmount.seconds(120).text == "2m")
        #expect(TimeAmount.seconds(2).text == "2s")
    }

    @Test func httpDateHasTheIMFFixdateShape() {
        let date = HTTPDate.now()
        #expect(date.hasSuffix(" GMT"))
        #expect(date.utf8.count == 29)
        #expect(date.dropFirst(3).hasPrefix(", "))
    }
}
