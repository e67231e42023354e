public import NIOCore
public import NIOHTTP1
import NIOHTTP2

/// Errors the server layer reports down the pipeline, so the application handler knows a request was cut off.
public enum HTTPServerError: Error, Hashable, Sendable {
    /// The request body grew past `ServerConfiguration.maxBodySize`; the server answered 413 if it could.
    case requestBodyTooLarge
    /// The client stopped sending the body for longer than `bodyReadTimeout`, or took longer than
    /// `requestTimeout` for the whole request; the server answered 408 if it could.
    case requestReadTimeout
}

/// Sits between NIO's HTTP/1.1 codec and the application handler and enforces what a client may do, and what a
/// response looks like on the wire:
///
/// - heads that fail `RequestHeadCheck` get its 4xx/5xx, malformed requests 400, oversized heads 431, oversized
///   bodies 413, stalled bodies 408; connections that stay silent too long are closed (slow loris);
/// - every response is framed by `ResponseFraming` for the request it answers (no body for HEAD, 204 or 304;
///   chunked or close when the length is unknown), and a request gets one answer: whatever the application writes
///   after a final response's end, before the next request, is dropped.
///
/// Timers are lazy: the handler keeps one scheduled task per connection and only moves a deadline per request, so a
/// busy keep-alive connection does not schedule and cancel a timer for every request.
public final class RequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    private enum Wait {
        /// Waiting for the next request head; `first` for a connection that has not sent one yet.
        case head(first: Bool)
        /// Receiving a request body.
        case body
        /// The request is in; the application is answering. No client timer runs.
        case none
    }

    private let configuration: ServerConfiguration
    private var wait = Wait.head(first: true)
    private var requestOpen = false
    private var responseOpen = false
    /// The answer to the current request has been written in full.
    private var responseDone = false
    /// After a rejected request: drop its remaining parts and close once the answer is out.
    private var discarding = false
    /// Closing: the answer is out, the output shut, and input is read and dropped until the client closes.
    private var lingering = false
    /// The parser gave up on this connection's input.
    private var unparsable = false
    /// An answer said `Connection: close`: nothing more is read or written.
    private var closing = false
    /// The write of the last answer's end.
    /// When the latest answer's end was written, if it was written with a promise (see `closeWhenWritten`).
    private var lastEnd: EventLoopFuture<Void>?
    /// The response encoder's context, on HTTP/1 connections (see `handlerAdded`).
    private var socketSide: ChannelHandlerContext?
    /// The client shut its sending side: close once the current answer is out.
    private var inputClosed = false
    /// Parts of a second answer to one request, dropped until its end.
    private var droppingResponse = false
    private var framing = ResponseFraming(dropsBody: false, closesConnection: false)
    private var method = HTTPMethod.GET
    private var version = HTTPVersion.http1_1
    private var keepAlive = true
    private var bodyBytes = 0
    private var deadline: NIODeadline?
    /// When the whole current request must have arrived (`requestTimeout`).
    private var requestDeadline: NIODeadline?
    private var timer: Scheduled<Void>?
    /// When `timer` fires.
    private var timerAt = NIODeadline.distantFuture
    /// Whether the application has asked for more data since the last read completed. When it holds reads back
    /// (a proxy whose upstream is slow), the client is not the one stalling, and the body timeout waits.
    private var readRequested = false

    /// The decoder's signal, for the status of errors it refines (see `RearmingRequestDecoder.Signal`).
    private let decoderSignal: RearmingRequestDecoder.Signal?

    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
        self.decoderSignal = nil
    }

    init(configuration: ServerConfiguration, decoderSignal: RearmingRequestDecoder.Signal) {
        self.configuration = configuration
        self.decoderSignal = decoderSignal
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        // On an HTTP/1 connection, bytes written below the response encoder reach the socket in order: a marker
        // written there tells when every answer before it has gone out, so answers need no promise of their own.
        socketSide = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self)
        if context.channel.isActive { arm(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        socketSide = nil
        timer?.cancel()
        timer = nil
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if closing {
            // An answer said `Connection: close`: no further request is processed (RFC 9112 §9.6); the rest of the
            // current one is read off so the close can be clean.
            if case .end = part {
                requestOpen = false
                if lingering { context.close(promise: nil) }
            }
            return
        }
        switch part {
        case .head(let head):
            requestOpen = true
            responseDone = false
            droppingResponse = false
            bodyBytes = 0
            method = head.method
            version = head.version
            keepAlive = head.isKeepAlive
            wait = .body
            requestDeadline = configuration.requestTimeout.map { context.eventLoop.now + $0 }
            arm(context: context)
            if discarding { return }
            switch RequestHeadCheck.check(head, maxHeaders: configuration.maxHeaders) {
            case .failure(let rejected):
                var extra: [(String, String)] = []
                if rejected.status == .methodNotAllowed { extra.append(("allow", RequestHeadCheck.serverMethods)) }
                reject(context: context, status: rejected.status, extra: extra)
            case .success(let accepted):
                if case .length(let length) = accepted.body, length > configuration.maxBodySize {
                    reject(context: context, status: .payloadTooLarge)
                    return
                }
                context.fireChannelRead(accepted.rewritten ? wrapInboundOut(.head(accepted.head)) : data)
            }
        case .body(let buffer):
            if discarding { return }
            bodyBytes += buffer.readableBytes
            if bodyBytes > configuration.maxBodySize {
                context.fireErrorCaught(HTTPServerError.requestBodyTooLarge)
                reject(context: context, status: .payloadTooLarge)
                return
            }
            arm(context: context)
            context.fireChannelRead(data)
        case .end:
            requestOpen = false
            requestDeadline = nil
            if lingering { context.close(promise: nil) }
            if discarding { return }
            wait = responseDone ? .head(first: false) : .none
            arm(context: context)
            context.fireChannelRead(data)
        }
    }

    public func read(context: ChannelHandlerContext) {
        if !readRequested {
            readRequested = true
            if case .body = wait { arm(context: context) }  // the client's clock starts when we are ready to read
        }
        context.read()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        readRequested = false
        context.fireChannelReadComplete()
    }

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(var head) where head.status.code >= 200:
            if responseDone || droppingResponse {
                // A second answer to one request: never on the wire.
                droppingResponse = true
                promise?.succeed()
                return
            }
            responseOpen = true
            if closing {
                // After an answer that said `Connection: close` nothing more goes out (RFC 9112 §9.6).
                responseOpen = false
                droppingResponse = true
                promise?.succeed()
                return
            }
            // A server answers in its own version (RFC 9110 §6.2), whatever the application put in the head; the
            // encoder chunks by the head's version, so this keeps what the framing says and what is sent one.
            var rewrote = head.version != .http1_1
            if rewrote { head.version = .http1_1 }  // (setting it copies the head)
            framing = ResponseFraming.frame(&head, method: method, version: version, keepAlive: keepAlive, rewrote: &rewrote)
            closing = framing.closesConnection
            // An unchanged head goes on as it came: no new box for it.
            context.write(rewrote ? wrapOutboundOut(.head(head)) : data, promise: promise)
        case .head:
            // 1xx: only to HTTP/1.1 clients, never once the final answer started.
            if responseOpen || responseDone || version.minor == 0 {
                promise?.succeed()
                return
            }
            context.write(data, promise: promise)
        case .body:
            if droppingResponse || framing.dropsBody || !responseOpen {
                promise?.succeed()
                return
            }
            context.write(data, promise: promise)
        case .end:
            if droppingResponse || !responseOpen {
                droppingResponse = false
                promise?.succeed()
                return
            }
            responseOpen = false
            responseDone = true
            if !requestOpen {
                wait = .head(first: false)
                arm(context: context)
            }
            // Decided before the write: writing the end may deliver the next pipelined request (and a half-close
            // behind it), which are answered in turn.
            let closesAfter = framing.closesConnection || inputClosed
            if !closesAfter, promise == nil, socketSide != nil {
                // The common keep-alive answer: no promise to make (`closeWhenWritten` writes a marker instead).
                lastEnd = nil
                context.write(data, promise: nil)
                return
            }
            let written = promise ?? context.eventLoop.makePromise()
            lastEnd = written.futureResult
            if closesAfter {
                written.futureResult.assumeIsolated().whenComplete { [self] _ in close(context: context) }
            }
            context.write(data, promise: written)
        }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if lingering { return }
        if closing, error is HTTPParserError {
            // After an answer that said `Connection: close`, whatever follows is not read, let alone answered
            // (llhttp itself refuses data after such a message).
            closeWhenWritten(context: context)
            return
        }
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        let status: HTTPResponseStatus
        if let special = decoderSignal?.errorStatus {
            status = special
        } else {
            switch parserError {
            case .headerOverflow: status = .requestHeaderFieldsTooLarge
            case .invalidVersion: status = .httpVersionNotSupported
            case .invalidMethod: status = .notImplemented  // RFC 9110 §9.1: a method this parser does not know
            default: status = .badRequest
            }
        }
        // The decoder parses nothing more on this connection: answer what could not be parsed, then close. Between
        // requests the bad bytes are a request of their own (its answer follows the last one's); within a request
        // that already has its answer, there is nothing left to say.
        if !requestOpen && !responseOpen {
            responseDone = false
            method = .GET  // a request of its own, not the last one parsed: its answer has a body (found by FuzzHTTP)
        }
        unparsable = true  // the client may still be sending what could not be parsed: linger when closing
        reject(context: context, status: status)
        context.fireErrorCaught(error)
    }

    // MARK: Rejecting

    private func reject(context: ChannelHandlerContext, status: HTTPResponseStatus, extra: [(String, String)] = []) {
        discarding = true
        timer?.cancel()
        timer = nil
        deadline = nil
        if lingering { return }
        if responseOpen || responseDone {
            closeWhenWritten(context: context)
        } else {
            writeError(context: context, status: status, extra: extra)
        }
    }

    /// Writes a short error answer with `Connection: close`, then closes.
    private func writeError(context: ChannelHandlerContext, status: HTTPResponseStatus, extra: [(String, String)]) {
        let body = "\(status.code) \(status.reasonPhrase)\n"
        var headers = HTTPHeaders()
        headers.reserveCapacity(5 + extra.count)
        if let server = configuration.serverName { headers.add(name: "server", value: server) }
        headers.add(name: "date", value: HTTPDate.now())
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        for (name, value) in extra { headers.add(name: name, value: value) }
        headers.add(name: "connection", value: "close")
        responseDone = true
        closing = true  // this answer says close too: nothing after it (found by FuzzGateway)
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        // A client that does not read (a full TCP window, an HTTP/2 stream window of 0) would keep the write, and so
        // the connection, pending forever: past this deadline it is closed whatever was written.
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(
            in: configuration.lingerTimeout + configuration.requestReadTimeout
        ) { context.close(promise: nil) }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { [self] _ in
            deadline.cancel()
            close(context: context)
        }
    }

    /// Closes once what was written has gone out: events (a parser error, a half-close) can arrive from inside the
    /// write of an answer's end, before it is flushed, and a close then would drop the answer.
    private func closeWhenWritten(context: ChannelHandlerContext) {
        context.flush()
        if let lastEnd {
            lastEnd.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else if let socketSide {
            // An empty write below the encoder completes after everything written before it.
            let marker = context.eventLoop.makePromise(of: Void.self)
            socketSide.writeAndFlush(NIOAny(IOData.byteBuffer(ByteBuffer())), promise: marker)
            marker.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    /// Closes after an answer. While the client may still be sending the request (a body the answer came before),
    /// closing at once would reset the connection and could destroy the answer in flight; like nginx's lingering
    /// close, the sending side is shut and what arrives is read and dropped until the client closes its side or
    /// `lingerTimeout` passes.
    private func close(context: ChannelHandlerContext) {
        guard requestOpen || unparsable, context.channel.isActive else {
            context.close(promise: nil)
            return
        }
        discarding = true
        lingering = true
        timer?.cancel()
        timer = nil
        deadline = nil
        if HTTPServer.isHTTP2Stream(context.channel) {
            // A stream has no half-close: its answer ended it our way; RST_STREAM(NO_ERROR) tells the client to
            // stop sending the rest of the request (RFC 9113 §8.1), where closing the stream would say CANCEL.
            if let codec = try? context.pipeline.syncOperations.context(handlerType: HTTP2FramePayloadToHTTP1ServerCodec.self) {
                codec.writeAndFlush(NIOAny(HTTP2Frame.FramePayload.rstStream(.noError)), promise: nil)
            }
            context.close(promise: nil)
            return
        }
        let promise = context.eventLoop.makePromise(of: Void.self)
        context.close(mode: .output, promise: promise)
        promise.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        context.eventLoop.assumeIsolated().scheduleTask(in: configuration.lingerTimeout) {
            context.close(promise: nil)
        }
    }

    /// The client shut its sending side (`shutdown(SHUT_WR)`, `nc -N`): a complete request still gets its answer,
    /// then the connection closes; an idle connection closes now.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, event == .inputClosed {
            inputClosed = true
            if lingering || (!requestOpen && !responseOpen && !answering) {
                closeWhenWritten(context: context)
                return
            }
        }
        context.fireUserInboundEventTriggered(event)
    }

    /// A complete request is in and its answer not yet finished.
    private var answering: Bool {
        if case .none = wait { return true }
        return false
    }

    // MARK: Timers

    private var timeout: TimeAmount? {
        switch wait {
        case .head(let first): first ? configuration.requestReadTimeout : configuration.idleTimeout
        case .body: configuration.bodyReadTimeout ?? configuration.requestReadTimeout
        case .none: nil
        }
    }

    /// Moves the deadline for what the connection waits for now; schedules a task only if none is pending.
    private func arm(context: ChannelHandlerContext) {
        guard let timeout else {
            deadline = nil
            return
        }
        var next = context.eventLoop.now + timeout
        if let requestDeadline, requestDeadline < next { next = requestDeadline }
        deadline = next
        if let timer, timerAt > next {
            // The pending task fires too late for this deadline (a body timeout shorter than the idle one).
            timer.cancel()
            self.timer = nil
        }
        if timer == nil { schedule(context: context, at: next) }
    }

    private func schedule(context: ChannelHandlerContext, at when: NIODeadline) {
        timerAt = when
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            timer = nil
            guard let deadline else { return }
            if deadline <= context.eventLoop.now {
                expire(context: context)
            } else {
                schedule(context: context, at: deadline)
            }
        }
    }

    private func expire(context: ChannelHandlerContext) {
        let overall = requestDeadline.map { $0 <= context.eventLoop.now } ?? false
        switch wait {
        case .body where !readRequested && !overall:
            // The application holds reads back (backpressure): nothing to blame the client for; look again later.
            arm(context: context)
        case .body:
            context.fireErrorCaught(HTTPServerError.requestReadTimeout)
            reject(context: context, status: .requestTimeout)
        case .head, .none:
            context.close(promise: nil)
        }
    }
}

@available(*, unavailable)
extension RequestGuard: Sendable {}
