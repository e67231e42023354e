import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import SluiceServer

/// A read stays armed while one request waits for its answer, and only then.
@Suite struct ReadAheadTests {
    @Test func readsAheadWhileOneEndedRequestWaitsForItsAnswer() {
        var policy = ReadAheadPolicy()
        #expect(!policy.shouldReadAhead, "idle: reads are not withheld anyway")
        policy.requestHead(keepAlive: true)
        #expect(!policy.shouldReadAhead, "the body is still coming: backpressure is the handlers' own")
        policy.requestEnd()
        #expect(policy.shouldReadAhead)
        policy.responseHead(keepAlive: true)
        #expect(policy.shouldReadAhead)
        policy.responseEnd()
        #expect(!policy.shouldReadAhead)
        policy.requestHead(keepAlive: true)
        policy.requestEnd()
        #expect(policy.shouldReadAhead, "and again for the next request")
    }

    @Test func aPipelinedRequestStopsReadAheadUntilEverythingIsAnswered() {
        var policy = ReadAheadPolicy()
        policy.requestHead(keepAlive: true)
        policy.requestEnd()
        policy.requestHead(keepAlive: true)  // arrived before the first was answered
        policy.requestEnd()
        #expect(!policy.shouldReadAhead)
        policy.responseEnd()
        #expect(!policy.shouldReadAhead, "the second is in flight, but more may be buffered behind it")
        policy.responseEnd()
        #expect(!policy.shouldReadAhead)
        policy.requestHead(keepAlive: true)
        policy.requestEnd()
        #expect(policy.shouldReadAhead, "all answered: back to reading ahead")
    }

    @Test func aConnectionThatClosesIsNotReadAhead() {
        var closingRequest = ReadAheadPolicy()
        closingRequest.requestHead(keepAlive: false)
        closingRequest.requestEnd()
        #expect(!closingRequest.shouldReadAhead)

        var closingAnswer = ReadAheadPolicy()
        closingAnswer.requestHead(keepAlive: true)
        closingAnswer.requestEnd()
        closingAnswer.responseHead(keepAlive: false)
        #expect(!closingAnswer.shouldReadAhead)
        closingAnswer.responseEnd()
        closingAnswer.requestHead(keepAlive: true)
        closingAnswer.requestEnd()
        #expect(!closingAnswer.shouldReadAhead, "nothing is read after an answer that said close")
    }

    @Test func anAnswerBeforeTheRequestEndedLeavesNothingUnanswered() {
        var policy = ReadAheadPolicy()
        policy.requestHead(keepAlive: true)
        policy.responseEnd()  // answered early (e.g. 404 while the body still arrives)
        policy.requestEnd()
        #expect(!policy.shouldReadAhead)
        policy.responseEnd()  // a stray second end does not make a later request look answered
        policy.requestHead(keepAlive: true)
        policy.requestEnd()
        #expect(policy.shouldReadAhead)
    }

    /// Counts the reads that reach the head of the pipeline.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Any
        var reads = 0
        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    @Test func theGuardArmsAReadWhileTheAnswerIsPendingAndWithholdsOthers() throws {
        let channel = EmbeddedChannel()
        let counter = ReadCounter()
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(
            RequestGuard(configuration: ServerConfiguration(), decoderSignal: RearmingRequestDecoder.Signal()))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: ["host": "a"])
        try channel.writeInbound(HTTPServerRequestPart.head(head))  // (EmbeddedChannel: read, then read complete)
        try channel.writeInbound(HTTPServerRequestPart.end(nil))
        #expect(try channel.readInbound(as: HTTPServerRequestPart.self) != nil, "the head was handed on")
        let armed = counter.reads
        channel.read()  // what NIO's autoRead does after a read: withheld while the request waits for its answer
        #expect(counter.reads == armed, "withheld: the next request would wait anyway")
        channel.pipeline.fireChannelReadComplete()
        #expect(counter.reads == armed + 1, "armed by read-ahead while the answer is pending")
        try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .ok)))
        try channel.writeOutbound(HTTPServerResponsePart.end(nil))
        #expect(counter.reads == armed + 2, "answered: the withheld read is issued")
        channel.pipeline.fireChannelReadComplete()
        #expect(counter.reads == armed + 2, "answered: nothing to read ahead for")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}
