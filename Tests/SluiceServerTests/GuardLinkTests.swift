import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import SluiceServer

/// The direct link between `RequestGuard` and the handler right after it (`RequestGuard+Link.swift`): the same
/// bytes, parts and order as through the pipeline, and reads held for the application.
@Suite struct GuardLinkTests {
    /// Answers each request with a head, a body and an end: through its context, or over the link.
    final class App: ChannelInboundHandler, RequestPartReceiver {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let link: RequestGuard?
        var context: ChannelHandlerContext?
        var received: [String] = []

        init(link: RequestGuard?) { self.link = link }

        func handlerAdded(context: ChannelHandlerContext) {
            self.context = context
            link?.attach(self)
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) { receive(unwrapInboundIn(data)) }

        func receive(_ part: HTTPServerRequestPart) {
            switch part {
            case .head(let head): received.append("head \(head.uri)")
            case .body(let body): received.append("body \(body.readableBytes)")
            case .end:
                received.append("end")
                let parts: [HTTPServerResponsePart] = [
                    .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2"])),
                    .body(.byteBuffer(ByteBuffer(string: "ok"))), .end(nil),
                ]
                for (index, part) in parts.enumerated() {
                    let flush = index == parts.count - 1
                    if let link, link.writeFromNext(part, flush: flush, promise: nil) { continue }
                    context!.write(wrapOutboundOut(part), promise: nil)
                    if flush { context!.flush() }
                }
            }
        }
    }

    /// Two pipelined requests in one read, the second with a body; returns what went out and what the app got.
    private func serve(linked: Bool) throws -> (wire: String, received: [String]) {
        let channel = EmbeddedChannel()
        try HTTPServer.configureHTTP(channel: channel, configuration: ServerConfiguration())
        let guardHandler = try channel.pipeline.syncOperations.handler(type: RequestGuard.self)
        let app = App(link: linked ? guardHandler : nil)
        try channel.pipeline.syncOperations.addHandler(app)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(
            ByteBuffer(
                string: "GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"))
        var wire = ""
        while let buffer = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let bytes) = buffer { wire += String(buffer: bytes) }
        }
        _ = try channel.finish(acceptAlreadyClosed: true)
        return (wire, app.received)
    }

    @Test func theLinkCarriesTheSamePartsAndBytesAsThePipeline() throws {
        let piped = try serve(linked: false)
        let linked = try serve(linked: true)
        #expect(piped.received == ["head /a", "end", "head /b", "body 3", "end"])
        #expect(linked.received == piped.received)
        #expect(piped.wire.components(separatedBy: "HTTP/1.1 200 OK").count == 3, "two answers: \(piped.wire)")
        // The date-free answers are byte for byte the same.
        #expect(linked.wire == piped.wire)
    }

    /// Answers with `writeHeadFromNext` (the guard adds `content-length` and `date`), a body and an end.
    final class AddingApp: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        let link: RequestGuard
        let status: HTTPResponseStatus
        let headers: HTTPHeaders
        init(link: RequestGuard, status: HTTPResponseStatus, headers: HTTPHeaders) {
            self.link = link
            self.status = status
            self.headers = headers
        }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
            _ = link.writeHeadFromNext(head, contentLength: status == .noContent ? nil : 2, date: "Sun, 06 Dec 2026 00:00:00 GMT")
            _ = link.writeFromNext(.body(.byteBuffer(ByteBuffer(string: "ok"))), flush: false, promise: nil)
            _ = link.writeFromNext(.end(nil), flush: true, promise: nil)
        }
    }

    private func answer(
        _ request: String, status: HTTPResponseStatus, headers: HTTPHeaders = ["content-type": "text/plain"]
    ) throws -> String {
        let channel = EmbeddedChannel()
        try HTTPServer.configureHTTP(channel: channel, configuration: ServerConfiguration())
        let link = try channel.pipeline.syncOperations.handler(type: RequestGuard.self)
        try channel.pipeline.syncOperations.addHandler(AddingApp(link: link, status: status, headers: headers))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: request))
        var wire = ""
        while let buffer = try channel.readOutbound(as: IOData.self) {
            if case .byteBuffer(let bytes) = buffer { wire += String(buffer: bytes) }
        }
        _ = try channel.finish(acceptAlreadyClosed: true)
        return wire
    }

    @Test func theGuardWritesTheFieldsLeftToItAndFramesByThem() throws {
        let date = "date: Sun, 06 Dec 2026 00:00:00 GMT\r\n"
        #expect(
            try answer("GET / HTTP/1.1\r\nHost: x\r\n\r\n", status: .ok)
                == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\(date)\r\nok")
        #expect(
            try answer("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n", status: .ok)
                == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\(date)\r\n", "HEAD: the length, no body")
        #expect(
            try answer("GET / HTTP/1.0\r\n\r\n", status: .ok)
                == "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nconnection: close\r\ncontent-length: 2\r\n\(date)\r\nok",
            "HTTP/1.0 without keep-alive: framed by the length, then closed")
        #expect(
            try answer("GET / HTTP/1.1\r\nHost: x\r\n\r\n", status: .noContent)
                == "HTTP/1.1 204 No Content\r\ncontent-type: text/plain\r\n\(date)\r\n", "204: no length, no body")
        // A field that could split the head: the guard's own 500, with its own length and date only.
        let refused = try answer("GET / HTTP/1.1\r\nHost: x\r\n\r\n", status: .ok, headers: ["x-a": "b\r\nx-b: c"])
        #expect(refused.hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"), "\(refused)")
        #expect(refused.components(separatedBy: "\r\ndate: ").count == 2, "one date: \(refused)")
        #expect(refused.contains("content-length: 26\r\n") && !refused.contains("content-length: 2\r\n"), "\(refused)")
        #expect(!refused.contains("x-b"))
    }

    @Test func heldReadsWaitAtTheGuardUntilReleased() throws {
        let channel = EmbeddedChannel()
        let counter = ReadAheadTests.ReadCounter()
        let guardHandler = RequestGuard(configuration: ServerConfiguration(), decoderSignal: RearmingRequestDecoder.Signal())
        try channel.pipeline.syncOperations.addHandler(counter)
        try channel.pipeline.syncOperations.addHandler(guardHandler)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        let head = HTTPRequestHead(
            version: .http1_1, method: .POST, uri: "/", headers: ["host": "a", "content-length": "100"])
        try channel.writeInbound(HTTPServerRequestPart.head(head))
        let before = counter.reads
        guardHandler.holdReads()
        channel.read()
        channel.pipeline.fireChannelReadComplete()  // nor does read-ahead read while the application holds reads
        #expect(counter.reads == before, "held at the guard")
        guardHandler.releaseReads()
        #expect(counter.reads == before + 1, "the held read is made on release")
        guardHandler.releaseReads()
        #expect(counter.reads == before + 1, "and only once")
        channel.read()
        #expect(counter.reads == before + 2, "reads flow again")
        _ = try channel.finish(acceptAlreadyClosed: true)
    }
}
