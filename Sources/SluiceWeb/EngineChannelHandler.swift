import Logging
import NIOCore
import NIOHTTP1
import SluiceServer

/// Collects a request, runs its chain on the event loop and writes the answer. One per connection; requests on a
/// connection are served one at a time (`RequestGuard` holds the next one back). Its state is the loop's alone and
/// skips the dynamic exclusivity check (see `Context`).
final class EngineChannelHandler: ChannelInboundHandler, RemovableChannelHandler, ResponseSink, RequestPartReceiver {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: Responder
    /// The connection's `RequestGuard` when this handler sits right after it: answers go to it directly
    /// (`RequestGuard+Link.swift`), not through the pipeline.
    private let link: RequestGuard?
    /// The connection's `RequestGuard`, wherever it is: a streaming body's consumer holds reads there.
    private var readGate: RequestGuard?
    @exclusivity(unchecked) private var head: HTTPRequestHead?
    @exclusivity(unchecked) private var body: ByteBuffer?
    @exclusivity(unchecked) private var channelContext: ChannelHandlerContext?
    /// The request being served, while its answer is due (async, pending or streaming).
    @exclusivity(unchecked) private var current: Context?
    @exclusivity(unchecked) private var runner: AsyncChainRunner?
    /// The loop's formatted dates, kept so that an answer's `date` costs no thread-specific lookup.
    @exclusivity(unchecked) private var dates: HTTPDate.ThreadCache?
    /// Feeds the body of a `streaming` route's request until its end.
    @exclusivity(unchecked) private var bodySource: RequestBodyStream.Producer.Source?
    /// The streaming body's consumer has enough: reads are held until it asks for more.
    @exclusivity(unchecked) private var readsPaused = false
    /// The lookup made at the head of the request being read (only when some route streams its body).
    @exclusivity(unchecked) private var headResolution: Responder.Resolution?
    /// A streaming request was answered before its body ended: the rest is dropped while the connection closes.
    @exclusivity(unchecked) private var discardingBody = false

    /// Whether files go out as `FileRegion`s (`sendfile`): only on plain HTTP/1.1 connections; TLS and HTTP/2
    /// streams get the file read into memory first.
    private let fileRegions: Bool

    init(responder: Responder, fileRegions: Bool = true, link: RequestGuard? = nil) {
        self.responder = responder
        self.fileRegions = fileRegions
        self.link = link
    }

    func handlerAdded(context: ChannelHandlerContext) {
        channelContext = context
        dates = HTTPDate.forThisThread()
        readGate = link ?? (try? context.pipeline.syncOperations.handler(type: RequestGuard.self))
        link?.attach(self)
    }

    /// Writes `part` to the guard: over the link when there is one, else through the pipeline.
    private func emit(
        _ part: HTTPServerResponsePart, flush: Bool = false, promise: EventLoopPromise<Void>? = nil,
        context: ChannelHandlerContext
    ) {
        if let link, link.writeFromNext(part, flush: flush, promise: promise) { return }
        if flush {
            context.writeAndFlush(wrapOutboundOut(part), promise: promise)
        } else {
            context.write(wrapOutboundOut(part), promise: promise)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        resumeReads(context)
        link?.attach(nil)
        channelContext = nil
        cancelCurrent()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client went away: async handlers see `Task.isCancelled`; nothing more will be written.
        bodySource?.finish(RequestBodyError(status: .badRequest, message: "the connection closed before the body ended"))
        bodySource = nil
        cancelCurrent()
        context.fireChannelInactive()
    }

    /// The client shut its sending side while its request is being served: as nginx does (`proxy_ignore_client_abort
    /// off`), the request's task is cancelled, since a client that closed cannot be told apart from one that only
    /// shut its half. The answer, if the handler still gives one, is written; the server layer then closes.
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed { current?.cancelAsyncPart() }
        context.fireUserInboundEventTriggered(event)
    }

    private func cancelCurrent() {
        current?.cancelAsyncPart()
        current = nil
        runner?.finish()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        receive(unwrapInboundIn(data), context: context)
    }

    /// A request part straight from the guard (`link`).
    func receive(_ part: HTTPServerRequestPart) {
        guard let context = channelContext else { return }
        receive(part, context: context)
    }

    private func receive(_ part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        switch part {
        case .head(let head):
            body = nil
            if head.version.minor >= 1, head.headers.contains(name: "expect") { continueIfAsked(head, context: context) }
            if responder.hasStreamingRoutes {
                // Looked up at the head (once): a streaming route starts now, any other keeps its lookup for `.end`.
                let resolved = responder.resolve(method: head.method, path: Context.path(of: head.uri))
                if let route = resolved.route, route.streamsBody {
                    startStreaming(head, resolved, route: route, context: context)
                    return
                }
                headResolution = resolved
            }
            self.head = head
        case .body(let chunk) where bodySource != nil:
            if case .stopProducing = bodySource!.yield(chunk) { pauseReads(context) }
        case .body where discardingBody:
            break
        case .end where discardingBody:
            discardingBody = false
        case .end where bodySource != nil:
            bodySource!.finish()
            bodySource = nil
            resumeReads(context)
        case .body(var chunk):
            if body == nil {
                body = chunk
            } else {
                body!.writeBuffer(&chunk)
            }
        case .end:
            guard let head else { return }
            self.head = nil
            let request = body
            body = nil
            serve(head, request, context: context)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The server layer already answered (400/408/413/431) and closes the connection.
        head = nil
        body = nil
        bodySource?.finish(RequestBodyError(error))
        bodySource = nil
        context.fireErrorCaught(error)
    }

    /// `Expect: 100-continue` (RFC 9110 §10.1.1): the client waits for a go-ahead before sending its body, which it
    /// gets at once (the server layer has already refused a declared length past `maxBodySize` with 413, so a
    /// request that arrives here is one the server will read). Other expectations are ignored, as nginx does.
    private func continueIfAsked(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        guard head.headers[canonicalForm: "expect"].contains(where: { $0.lowercased() == "100-continue" }) else { return }
        emit(.head(HTTPResponseHead(version: .http1_1, status: .continue)), flush: true, context: context)
    }

    // MARK: Streaming request bodies

    /// Starts a `streaming` route's chain at its request's head.
    private func startStreaming(
        _ head: HTTPRequestHead, _ resolved: Responder.Resolution, route: HandlerChain, context: ChannelHandlerContext
    ) {
        let loop = context.eventLoop
        let bound = NIOLoopBound(WeakHandler(self), eventLoop: loop)
        let (stream, source) = RequestBodyStream.live { loop.execute { bound.value.handler?.bodyDemanded() } }
        bodySource = source
        let c = Context(
            head: head, body: nil, channel: context.channel, eventLoop: loop, allocator: context.channel.allocator,
            parameters: resolved.parameters, route: route, steps: resolved.steps, logger: responder.logger)
        c.liveBody = stream
        run(c)
    }

    private func bodyDemanded() {
        guard readsPaused, let context = channelContext else { return }
        resumeReads(context)
    }

    /// Reads are held at the guard, which sees every read on its way to the socket (and knows the client is then not
    /// the one stalling); without one, by turning auto-read off.
    private func pauseReads(_ context: ChannelHandlerContext) {
        readsPaused = true
        if let readGate {
            readGate.holdReads()
        } else {
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: false)
        }
    }

    private func resumeReads(_ context: ChannelHandlerContext) {
        guard readsPaused else { return }
        readsPaused = false
        if let readGate {
            readGate.releaseReads()
        } else {
            try? context.channel.syncOptions?.setOption(ChannelOptions.autoRead, value: true)
        }
    }

    private func serve(_ head: HTTPRequestHead, _ body: ByteBuffer?, context: ChannelHandlerContext) {
        let resolved: Responder.Resolution
        if let looked = headResolution {
            resolved = looked
            headResolution = nil
        } else {
            resolved = responder.resolve(method: head.method, path: Context.path(of: head.uri))
        }
        let c = Context(
            head: head, body: body, channel: context.channel, eventLoop: context.eventLoop,
            allocator: context.channel.allocator, parameters: resolved.parameters, route: resolved.route,
            steps: resolved.steps, logger: responder.logger)
        run(c)
    }

    private func run(_ c: Context) {
        if responder.run(c, sink: self) {
            send(c)
        } else if !c.done {
            // Answered later: by its task, `respondLater`, or a stream.
            current = c
        }
    }

    // MARK: ResponseSink

    /// Made on the first async handler of the connection, then kept.
    var asyncRunner: AsyncChainRunner {
        if let runner { return runner }
        // Only asked for while a request is served, so the handler is in its pipeline.
        let made = AsyncChainRunner(executor: EventLoopTaskExecutor(channelContext!.eventLoop))
        runner = made
        return made
    }

    /// Writes the answer `c` holds. Runs on the event loop.
    func send(_ c: Context) {
        guard !c.answered else { return }
        c.answered = true
        c.done = true
        if current === c { current = nil }
        guard let context = channelContext else { return }
        c.prepareWholeAnswer()
        // A streaming request answered before its body ended: the rest is not read, so the connection ends.
        let keepAlive = c.isKeepAlive && bodySource == nil
        let bodyLength = c.responseFile.map { $0.region.readableBytes } ?? c.responseBody?.readableBytes ?? 0
        let bodyAllowed = c.responseStatus.mayHaveResponseBody
        let date = dates?.now() ?? HTTPDate.now()
        let length = bodyAllowed ? bodyLength : nil
        c.setConnectionHeader(keepAlive: keepAlive)
        // Over the link the guard writes `content-length` and `date` after the fields: no `HTTPHeaders.add` for them.
        let sentByLink = link?.writeHeadFromNext(
            status: c.responseStatus, headers: c.responseHeaders, version: c.version, contentLength: length, date: date)
        if sentByLink != true {
            var head = HTTPResponseHead(version: c.version, status: c.responseStatus, headers: c.responseHeaders)
            if let length { head.headers.add(name: "content-length", value: String(length)) }
            head.headers.add(name: "date", value: date)
            emit(.head(head), context: context)
        }
        if bodyAllowed, !c.method.is(.HEAD) {
            if let file = c.responseFile, !fileRegions {
                // No sendfile through TLS or HTTP/2 framing: the file is read off the loop in 64 KiB parts, each
                // written before the next is read, so a large file costs the memory of a part, not of the file.
                let handle = file.handle
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                StaticFile.io.readChunked(
                    fileRegion: file.region, chunkSize: 64 * 1024, allocator: context.channel.allocator,
                    eventLoop: context.eventLoop
                ) { part in
                    bound.value.writeAndFlush(NIOAny(HTTPServerResponsePart.body(.byteBuffer(part))))
                }
                .assumeIsolated().whenComplete { result in
                    try? handle.close()
                    guard case .success = result else {
                        context.close(promise: nil)
                        return
                    }
                    self.finish(c, keepAlive: keepAlive, context: context)
                }
                return
            } else if let file = c.responseFile {
                let handle = file.handle
                let written = context.eventLoop.makePromise(of: Void.self)
                written.futureResult.whenComplete { _ in try? handle.close() }
                emit(.body(.fileRegion(file.region)), promise: written, context: context)
            } else if let body = c.responseBody, body.readableBytes > 0 {
                emit(.body(.byteBuffer(body)), context: context)
            }
        } else if let file = c.responseFile {
            try? file.handle.close()
        }
        finish(c, keepAlive: keepAlive, context: context)
    }

    func startStream(_ c: Context) {
        c.answered = true
        guard let context = channelContext else { return }
        c.responseHeaders.remove(name: "content-length")
        c.dropInvalidHeaders()
        c.responseHeaders.add(name: "date", value: HTTPDate.now())
        // HTTP/1.0 has no chunked coding: the end of the body is the end of the connection.
        // A streamed answer may begin while a streaming request's body is still being read: whether the connection
        // can stay open is decided at its end.
        c.setConnectionHeader(keepAlive: c.isKeepAlive && c.version.minor >= 1)
        let head = HTTPResponseHead(version: c.version, status: c.responseStatus, headers: c.responseHeaders)
        emit(.head(head), flush: true, context: context)
    }

    func writeStream(_ c: Context, _ part: ByteBuffer) async throws {
        guard let context = channelContext, context.channel.isActive else { throw CancellationError() }
        let written = context.eventLoop.makePromise(of: Void.self)
        emit(.body(.byteBuffer(part)), flush: true, promise: written, context: context)
        try await written.futureResult.get()
    }

    func endStream(_ c: Context) {
        c.done = true
        if current === c { current = nil }
        guard let context = channelContext else { return }
        finish(c, keepAlive: c.isKeepAlive && c.version.minor >= 1 && bodySource == nil, context: context)
    }

    private func finish(_ c: Context, keepAlive: Bool, context: ChannelHandlerContext) {
        if let source = bodySource {
            // Answered before the body ended (`keepAlive` is false): whatever the handler did not read is dropped.
            source.finish()
            bodySource = nil
            discardingBody = true
            resumeReads(context)
        }
        if keepAlive {
            emit(.end(nil), flush: true, context: context)
        } else {
            let written = context.eventLoop.makePromise(of: Void.self)
            written.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
            emit(.end(nil), flush: true, promise: written, context: context)
        }
        for hook in c.finishHooks { hook(c) }
    }
}

@available(*, unavailable)
extension EngineChannelHandler: Sendable {}

/// The connection's handler, held weakly by its body stream's callbacks.
private final class WeakHandler {
    weak var handler: EngineChannelHandler?
    init(_ handler: EngineChannelHandler) { self.handler = handler }
}

extension Context {
    /// What every sink does to a whole answer before writing it: `Gzip`, then the head check.
    func prepareWholeAnswer() {
        if gzip != nil { compressIfAsked() }
        refuseInvalidHeaders()
    }

    /// A whole answer whose header fields could split the head (CR, LF, NUL, a name that is not a token) becomes a
    /// 500, and the handler's mistake is logged: the server checks its own heads, so the pipeline has no validator.
    func refuseInvalidHeaders() {
        guard !fieldsKnownValid, !ResponseHeaderCheck.isValidToSend(responseHeaders) else { return }
        logger.error("answer dropped: a response header field is not valid to send", metadata: ["path": "\(path)"])
        if let file = responseFile { try? file.handle.close() }
        responseFile = nil
        responseStatus = .internalServerError
        responseHeaders = ["content-type": "application/json; charset=utf-8"]
        responseBody = allocator.buffer(string: #"{"error":"internal server error"}"#)
    }

    /// A streamed answer's head is sent without its invalid fields (its status is already promised to the writer).
    func dropInvalidHeaders() {
        guard !fieldsKnownValid, !ResponseHeaderCheck.isValidToSend(responseHeaders) else { return }
        logger.error("response header fields dropped: not valid to send", metadata: ["path": "\(path)"])
        var kept = HTTPHeaders()
        for (name, value) in responseHeaders
        where ResponseHeaderCheck.isToken(name) && ResponseHeaderCheck.isFieldValue(value) {
            kept.add(name: name, value: value)
        }
        responseHeaders = kept
    }

    /// Whether the connection stays open after this answer: the client asked for it (RFC 9112 §9.3) and no handler
    /// set `Connection: close`.
    var isKeepAlive: Bool {
        guard requestKeepAlive else { return false }
        guard responseHeaders.contains(name: "connection") else { return true }
        return !responseHeaders[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
    }

    func setConnectionHeader(keepAlive: Bool) {
        if !keepAlive {
            keepingFieldsValid { responseHeaders.replaceOrAdd(name: "connection", value: "close") }
        } else if version.major == 1 && version.minor == 0 {
            keepingFieldsValid { responseHeaders.replaceOrAdd(name: "connection", value: "keep-alive") }
        }
    }
}

extension HTTPResponseStatus {
    /// 1xx, 204 and 304 answers carry no body (RFC 9110 §6.4.1).
    var mayHaveResponseBody: Bool {
        switch code {
        case 100..<200, 204, 304: false
        default: true
        }
    }
}
