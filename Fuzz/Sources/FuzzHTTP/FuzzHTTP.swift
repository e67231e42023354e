import FuzzSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import SluiceServer

#if canImport(Glibc)
import Glibc
#endif

/// `FUZZ_VERBOSE=1`: print what each input did (for reading a reproducer).
let verbose = getenv("FUZZ_VERBOSE") != nil
/// `FUZZ_STRICT=1`: also what reproduces findings that are reported and skipped while fuzzing.
let strict = getenv("FUZZ_STRICT") != nil

// libFuzzer target for the server's HTTP/1.1 pipeline (`HTTPServer.configureHTTP`: NIO's parser in the re-arming
// decoder, the encoder, header validation, pipelining, `RequestGuard`) on an `EmbeddedChannel`, with an application
// handler that answers every request and records what reached it. All in memory, on a fake clock.
//
// Input: two option bytes, then the client's bytes.
//   byte 0: bits 0-3 how the bytes are cut into reads (0: one read; else 1, 2, 3, 5, 7, 11, 16, 32, ... bytes);
//           bit 4 small limits (head 512 B, body 16 B, 4 fields); bit 5 no half-close at the end, only the clock;
//           bit 6 advance the clock 11 s between reads (timeouts fire mid-request); bit 7 answers in the request's
//           HTTP version (else always HTTP/1.1).
//   byte 1: bit 0 answer when the head arrives (before the body); bit 1 no Content-Length (the server frames it);
//           bit 2 try a second answer to the same request; bit 3 send 100 Continue first; bits 4-5 status 200, 204,
//           304, 404; bit 6 `Connection: close` on the answer; bit 7 hold every answer until the input is over.
//
// Invariants (any failure aborts, so libFuzzer keeps the input):
//   1. the application sees no more request heads than NIO's parser alone finds in the bytes;
//   2. every head it sees passes `RequestHeadCheck.check` as it is (nothing the guard should refuse or rewrite gets
//      through), and parts come in order: head, body*, end;
//   3. what the server wrote is a sequence of well-formed responses, each framed right for its request, nothing
//      after one that said `Connection: close`, and the connection closed after it;
//   4. at most one final response per request the bytes hold (plus one error answer if the parser failed);
//   (with FUZZ_STRICT=1) no request reaches the application after an answer that said `Connection: close`;
//   5. no crash, no sanitizer report.

let chunkSizes = [0, 1, 2, 3, 5, 7, 11, 16, 32, 64, 128, 256, 512, 1024, 4096, 13]

struct Options {
    var chunk: Int
    var smallLimits: Bool
    var halfClose: Bool
    var clockBetweenReads: Bool
    var answerAtHead: Bool
    var unframed: Bool
    var secondAnswer: Bool
    var sendContinue: Bool
    var status: HTTPResponseStatus
    var close: Bool
    var hold: Bool
    var http10: Bool

    init(_ a: UInt8, _ b: UInt8) {
        chunk = chunkSizes[Int(a & 0x0F)]
        smallLimits = a & 0x10 != 0
        halfClose = a & 0x20 == 0
        clockBetweenReads = a & 0x40 != 0
        http10 = a & 0x80 != 0
        answerAtHead = b & 0x01 != 0
        unframed = b & 0x02 != 0
        secondAnswer = b & 0x04 != 0
        sendContinue = b & 0x08 != 0
        status = [.ok, .noContent, .notModified, .notFound][Int(b >> 4) & 3]
        close = b & 0x40 != 0
        hold = b & 0x80 != 0
    }
}

/// Answers requests as the options say and records what it was given.
final class App: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let options: Options
    var heads: [HTTPRequestHead] = []
    var inRequest = false
    var held: [HTTPRequestHead] = []
    var context: ChannelHandlerContext?
    let maxHeaders: Int

    init(options: Options, maxHeaders: Int) {
        self.options = options
        self.maxHeaders = maxHeaders
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }
    func handlerRemoved(context: ChannelHandlerContext) { self.context = nil }

    /// An answer that said `Connection: close` was written; any request after it should never reach the app.
    var saidClose = false
    /// A head reached the app after such an answer (regressions/FuzzHTTP/pipelined-after-connection-close).
    var lateHead = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            if inRequest { fail("a second head before the end of the request \(heads.last!.uri)") }
            if saidClose { lateHead = true }
            inRequest = true
            heads.append(head)
            switch RequestHeadCheck.check(head, maxHeaders: maxHeaders) {
            case .failure(let rejected):
                fail("the application got a head RequestHeadCheck refuses (\(rejected)): \(head)")
            case .success(let accepted):
                if accepted.rewritten { fail("the application got a head RequestHeadCheck rewrites: \(head)") }
            }
            if options.answerAtHead { answer(head, context: context) }
        case .body:
            if !inRequest { fail("a body part outside a request") }
        case .end:
            if !inRequest { fail("an end outside a request") }
            inRequest = false
            if !options.answerAtHead { answer(heads.last!, context: context) }
        }
    }

    func answer(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        if options.hold {
            held.append(request)
            return
        }
        write(request, context: context)
    }

    func releaseHeld() {
        guard let context else { return }
        let pending = held
        held = []
        for request in pending { write(request, context: context) }
    }

    func write(_ request: HTTPRequestHead, context: ChannelHandlerContext) {
        if options.sendContinue {
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: .continue))), promise: nil)
        }
        let body = "ok \(request.uri.utf8.count)\n"
        var headers = HTTPHeaders()
        if !options.unframed { headers.add(name: "content-length", value: String(body.utf8.count)) }
        if options.close { headers.add(name: "connection", value: "close") }
        // Bit 7: answer in the request's version, as SluiceWeb, the admin API and ProxyHandler do (else HTTP/1.1).
        // With FUZZ_STRICT=1 it is "always HTTP/1.0", which reproduces regressions/FuzzHTTP/http10-head-chunked-header.
        let version: HTTPVersion = options.http10 ? (strict ? .http1_0 : request.version) : .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: options.status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        if options.close { saidClose = true }
        context.write(wrapOutboundOut(.end(nil)), promise: nil)
        if options.secondAnswer {
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "5"]))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: "again")))), promise: nil)
            context.write(wrapOutboundOut(.end(nil)), promise: nil)
        }
        context.flush()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {}
}

/// Sits right before `RequestGuard` and records every head it is given (the app sees only those the guard passes):
/// the requests the server's answers are for, in order.
final class Spy: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    var heads: [HTTPRequestHead] = []

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head(let head) = unwrapInboundIn(data) { heads.append(head) }
        context.fireChannelRead(data)
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let options = Options(data[0], data[1])
    let input = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    run(options, input)
    return 0
}

func run(_ options: Options, _ input: [UInt8]) {
    var configuration = ServerConfiguration(
        maxHeadSize: 16 * 1024, maxBodySize: 1024 * 1024, requestReadTimeout: .seconds(10), idleTimeout: .seconds(60))
    if options.smallLimits {
        configuration.maxHeadSize = 512
        configuration.maxBodySize = 16
        configuration.maxHeaders = 4
    }
    configuration.bodyReadTimeout = .seconds(5)
    configuration.requestTimeout = .seconds(30)

    let channel = EmbeddedChannel()
    let app = App(options: options, maxHeaders: configuration.maxHeaders)
    let spy = Spy()
    var output: [UInt8] = []
    func drain() {
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) { output += buffer.readableBytesView }
    }
    do {
        try HTTPServer.configureHTTP(channel: channel, configuration: configuration)
        let guardHandler = try channel.pipeline.syncOperations.handler(type: RequestGuard.self)
        try channel.pipeline.syncOperations.addHandler(spy, position: .before(guardHandler))
        try channel.pipeline.syncOperations.addHandler(app)
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
    } catch {
        fail("setting up the pipeline failed: \(error)")
    }

    var offset = 0
    let step = options.chunk == 0 ? max(input.count, 1) : options.chunk
    while offset < input.count && channel.isActive {
        let end = min(offset + step, input.count)
        do {
            try channel.writeInbound(channel.allocator.buffer(bytes: input[offset..<end]))
        } catch {
            // Errors reach the end of the pipeline as well: the server has answered them already.
        }
        drain()
        if options.clockBetweenReads { channel.embeddedEventLoop.advanceTime(by: .seconds(11)) }
        offset = end
    }
    app.releaseHeld()
    drain()
    if options.halfClose && channel.isActive {
        channel.pipeline.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
        channel.embeddedEventLoop.run()
        app.releaseHeld()
        drain()
    }
    // Every timer: read timeouts, linger, idle.
    for _ in 0..<4 {
        channel.embeddedEventLoop.advanceTime(by: .seconds(61))
        app.releaseHeld()
        drain()
    }
    let closed = !channel.isActive
    _ = try? channel.finish(acceptAlreadyClosed: true)
    drain()

    let reference = ReferenceParser.parse(input)
    let context = {
        "\nreference: \(reference.heads.count) heads, \(reference.ends) ends, errored \(reference.errored) \(reference.errors)"
            + "\nguard got: \(spy.heads.map { "\($0.method) \($0.uri)" }), app saw: \(app.heads.map { "\($0.method) \($0.uri)" })\noutput: \(escaped(output.prefix(4096)))"
    }
    // 1.
    if app.heads.count > reference.heads.count {
        fail("the application saw \(app.heads.count) requests, NIO's parser finds \(reference.heads.count)" + context())
    }
    if spy.heads.count > reference.heads.count {
        fail("RequestGuard got \(spy.heads.count) requests, NIO's parser finds \(reference.heads.count)" + context())
    }
    // 3. The i-th answer is for the i-th head the server parsed (the reference's heads may differ when a timeout or
    // a rejection cut the stream short); an answer past them is for a request that never parsed (GET, as the guard
    // assumes).
    let methods = spy.heads.map(\.method)
    let responses: [WireResponse]
    switch ResponseReader.read(output, method: { $0 < methods.count ? methods[$0] : .GET }, closed: closed) {
    case .success(let read): responses = read
    case .failure(let failure):
        if app.lateHead && !strict && failure.reason.hasPrefix("bytes after a response that said Connection: close") { return }
        fail("malformed output: \(failure)" + context())
    }
    if app.lateHead && strict {
        fail("a request reached the application after an answer that said Connection: close" + context())
    }
    if verbose { say("options \(options)" + context() + "\nresponses: \(responses)") }
    // 3b. A connection whose last answer said `Connection: close` is closed (all timers have run by now).
    if let last = responses.last(where: { !$0.isInformational }), last.saysClose, !closed {
        fail("the last answer said Connection: close, but the connection is still open" + context())
    }
    // 4.
    let finals = responses.filter { !$0.isInformational }.count
    let allowed = reference.heads.count + (reference.errored ? 1 : 0)
    if finals > allowed {
        fail("\(finals) final responses for \(reference.heads.count) requests (parser errored: \(reference.errored))" + context())
    }
}

func fail(_ message: String) -> Never {
    var text = "FuzzHTTP invariant failed: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    fatalError("FuzzHTTP invariant failed")
}

/// A line on stderr, unbuffered (libFuzzer leaves without flushing stdout).
func say(_ message: String) {
    var text = message + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
