import NIOCore
import NIOEmbedded
import NIOHTTP1
import SluiceServer
import Testing

/// `RequestGuard` takes an HTTP/1 connection's requests one at a time: what is pipelined behind a request waits for
/// that request's answer, in order, whatever it is (a request, a malformed one, a half-close, a drain).
@Suite struct PipeliningTests {
    private static let two = "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n"

    @Test func aPipelinedRequestWaitsForTheAnswerBeforeIt() throws {
        let connection = try HostileChannel()
        connection.app.hold = true
        try connection.send(Self.two)
        #expect(connection.app.heads.map(\.uri) == ["/a"], "/b is held while /a waits for its answer")
        #expect(try connection.output().isEmpty)
        connection.app.answerHeld()
        #expect(connection.app.heads.map(\.uri) == ["/a", "/b"], "handed on once /a is answered")
        connection.app.answerHeld()
        #expect(try connection.output().occurrences(of: "HTTP/1.1 200 OK") == 2)
        #expect(connection.isOpen)
    }

    @Test func aMalformedRequestBehindAWaitingOneIsAnsweredInItsTurn() throws {
        let connection = try HostileChannel()
        connection.app.hold = true
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\nBad Name: x\r\n\r\n")
        #expect(try connection.output().isEmpty, "the 400 does not overtake /a's answer")
        #expect(connection.isOpen)
        connection.app.answerHeld()
        let output = try connection.output()
        let ok = try #require(output.range(of: "HTTP/1.1 200 OK"))
        let bad = try #require(output.range(of: "HTTP/1.1 400 Bad Request"))
        #expect(ok.lowerBound < bad.lowerBound)
        #expect(connection.app.heads.map(\.uri) == ["/a"])
        connection.channel.embeddedEventLoop.run()
        #expect(!connection.isOpen)
    }

    @Test func aHalfCloseBehindPipelinedRequestsWaitsForThem() throws {
        let connection = try HostileChannel()
        connection.app.hold = true
        try connection.send(Self.two)
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        #expect(connection.isOpen, "/a and /b still get their answers")
        connection.app.answerHeld()
        connection.app.answerHeld()
        #expect(try connection.output().occurrences(of: "HTTP/1.1 200 OK") == 2)
        connection.channel.embeddedEventLoop.run()
        #expect(!connection.isOpen, "then the connection closes")
    }

    @Test func drainingClosesAnIdleConnectionAtOnce() throws {
        let connection = try HostileChannel()
        try connection.send("GET /a HTTP/1.1\r\nHost: h\r\n\r\n")
        #expect(try connection.output().contains("200 OK"))
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        connection.channel.embeddedEventLoop.run()
        #expect(!connection.isOpen)
    }

    @Test func drainingLetsTheCurrentAnswerSayCloseAndDropsWhatIsPipelined() throws {
        let connection = try HostileChannel()
        connection.app.hold = true
        try connection.send(Self.two)
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(connection.isOpen, "/a is still being answered")
        connection.app.answerHeld()
        let output = try connection.output()
        #expect(output.occurrences(of: "HTTP/1.1 200 OK") == 1)
        #expect(output.lowercased().contains("connection: close"))
        #expect(connection.app.heads.map(\.uri) == ["/a"], "/b was never taken")
        connection.channel.embeddedEventLoop.run()
        #expect(!connection.isOpen)
    }

    @Test func drainingWhileABodyArrivesClosesAfterItsAnswer() throws {
        let connection = try HostileChannel()
        try connection.send("POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nab")
        connection.channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent())
        #expect(connection.isOpen)
        try connection.send("cdGET /b HTTP/1.1\r\nHost: h\r\n\r\n")
        let output = try connection.output()
        #expect(output.occurrences(of: "HTTP/1.1 200 OK") == 1)
        #expect(output.lowercased().contains("connection: close"))
        #expect(connection.app.bodies == ["abcd"])
        connection.channel.embeddedEventLoop.run()
        #expect(!connection.isOpen)
    }

    @Test func takingTheHTTPHandlersOffHandsHeldRequestsOn() throws {
        let connection = try HostileChannel()
        connection.app.hold = true
        try connection.send(Self.two)
        #expect(connection.app.heads.map(\.uri) == ["/a"])
        try HTTPServer.removeHTTPHandlers(from: connection.channel)
        #expect(connection.app.heads.map(\.uri) == ["/a", "/b"], "nothing held is lost with the handler")
    }
}
