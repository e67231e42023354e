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
/// On an HTTP/1 connection (`HTTPServer.configureHTTP`) it also takes requests one at a time, as NIO's
/// `HTTPServerPipelineHandler` would (`RequestGuard+Pipelining.swift`): what a client pipelines behind a request
/// is held until that request has its answer; a read stays armed while one request waits for its answer
/// (`ReadAheadPolicy`); `ChannelShouldQuiesceEvent` closes the connection after the current answer; and the
/// decoder is told when a request made llhttp stop (`RearmingRequestDecoder`). One handler for all of it, so each
/// request and response part crosses one handler here, not three.
///
/// On an HTTP/2 stream (one request per stream) it enforces limits, timers and framing only.
///
/// Timers are lazy: the handler keeps one scheduled task per connection and only moves a deadline per request, so a
/// busy keep-alive connection does not schedule and cancel a timer for every request.
///
/// Its state belongs to the connection's loop, is read and written for every request part, and is never lent out
/// while being changed: it skips the dynamic exclusivity check (about 75 instructions an access).
public final class RequestGuard: ChannelDuplexHandler, RemovableChannelHandler {
    public typealias InboundIn = HTTPServerRequestPart
    public typealias InboundOut = HTTPServerRequestPart
    public typealias OutboundIn = HTTPServerResponsePart
    public typealias OutboundOut = HTTPServerResponsePart

    enum Wait {
        /// Waiting for the next request head; `first` for a connection that has not sent one yet.
        case head(first: Bool)
        /// Receiving a request body.
        case body
        /// The request is in; the application is answering. No client timer runs.
        case none
    }

    let configuration: ServerConfiguration
    @exclusivity(unchecked) var wait = Wait.head(first: true)
    @exclusivity(unchecked) var requestOpen = false
    @exclusivity(unchecked) var responseOpen = false
    /// The answer to the current request has been written in full.
    @exclusivity(unchecked) var responseDone = false
    /// After a rejected request: drop its remaining parts and close once the answer is out.
    @exclusivity(unchecked) var discarding = false
    /// Closing: the answer is out, the output shut, and input is read and dropped until the client closes.
    @exclusivity(unchecked) var lingering = false
    /// The parser gave up on this connection's input.
    @exclusivity(unchecked) var unparsable = false
    /// An answer said `Connection: close`: nothing more is read or written.
    @exclusivity(unchecked) var closing = false
    /// When the latest answer's end was written, if it was written with a promise (see `closeWhenWritten`).
    @exclusivity(unchecked) var lastEnd: EventLoopFuture<Void>?
    /// HTTP/1: a final head's bytes, waiting to go out with its body (see `RequestGuard+Encoding.swift`).
    @exclusivity(unchecked) var pendingHead: ByteBuffer?
    /// The client shut its sending side: close once the current answer is out.
    @exclusivity(unchecked) var inputClosed = false
    /// Parts of a second answer to one request, dropped until its end.
    @exclusivity(unchecked) var droppingResponse = false
    @exclusivity(unchecked) var framing = ResponseFraming(dropsBody: false, closesConnection: false)
    @exclusivity(unchecked) var method = HTTPMethod.GET
    @exclusivity(unchecked) var version = HTTPVersion.http1_1
    @exclusivity(unchecked) var keepAlive = true
    @exclusivity(unchecked) var bodyBytes = 0
    @exclusivity(unchecked) var deadline: NIODeadline?
    /// When the whole current request must have arrived (`requestTimeout`).
    @exclusivity(unchecked) var requestDeadline: NIODeadline?
    @exclusivity(unchecked) var timer: Scheduled<Void>?
    /// When `timer` fires.
    @exclusivity(unchecked) var timerAt = NIODeadline.distantFuture
    /// Whether the application has asked for more data since the last read completed. When it holds reads back
    /// (a proxy whose upstream is slow), the client is not the one stalling, and the body timeout waits.
    @exclusivity(unchecked) var readRequested = false

    // MARK: HTTP/1 connection duties (see RequestGuard+Pipelining.swift)

    /// The decoder's signal: set on an HTTP/1 connection, where this handler also orders pipelined requests.
    let decoderSignal: RearmingRequestDecoder.Signal?
    /// The request being read asks llhttp to stop after it.
    @exclusivity(unchecked) var stopsParser = false
    @exclusivity(unchecked) var readAhead = ReadAheadPolicy()
    /// The request handed to the application has not had its whole answer yet (a head was passed on and its
    /// answer's end not written). Once that request has ended too, what arrives is held.
    @exclusivity(unchecked) var answerPending = false
    /// Parts, parser errors and a half-close that arrived behind a request still waiting for its answer.
    @exclusivity(unchecked) var held = CircularBuffer<HeldEvent>(initialCapacity: 0)
    /// A read the application asked for while requests are held back: issued once they may flow again.
    @exclusivity(unchecked) var readWithheld = false
    /// The server is draining: the current answer is the connection's last.
    @exclusivity(unchecked) var quiescing = false

    // MARK: The application handler's direct link (see RequestGuard+Link.swift)

    /// This handler's own context while it is in a pipeline.
    @exclusivity(unchecked) var ownContext: ChannelHandlerContext?
    /// The application has asked for no more input for now (a streaming body's consumer has enough).
    @exclusivity(unchecked) var applicationHoldsReads = false
    /// A read that came while the application held reads: issued when it lets go.
    @exclusivity(unchecked) var applicationReadHeld = false
    /// The handler right after this one, when it takes request parts directly.
    @exclusivity(unchecked) var receiver: (any RequestPartReceiver)?

    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
        self.decoderSignal = nil
    }

    init(configuration: ServerConfiguration, decoderSignal: RearmingRequestDecoder.Signal) {
        self.configuration = configuration
        self.decoderSignal = decoderSignal
    }

    /// Whether this handler serves a whole HTTP/1 connection (rather than one HTTP/2 stream): it then also orders
    /// the requests and writes the answers' bytes.
    var http1: Bool { decoderSignal != nil }

    public func handlerAdded(context: ChannelHandlerContext) {
        ownContext = context
        if context.channel.isActive { arm(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
        ownContext = nil
        receiver = nil
        writePendingHead(context: context)
        timer?.cancel()
        timer = nil
        passHeldOn(context: context)
    }

    public func channelInactive(context: ChannelHandlerContext) {
        timer?.cancel()
        timer = nil
        held.removeAll(keepingCapacity: false)
        context.fireChannelInactive()
    }

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if let signal = decoderSignal {
            watch(part, signal: signal)
            if keepsBack(data) { return }
        }
        deliver(part, data, context: context)
    }

    /// Takes one request part, as it arrived or from the held ones when its turn came.
    func deliver(_ part: HTTPServerRequestPart, _ data: NIOAny, context: ChannelHandlerContext) {
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
            answerPending = true
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
                if accepted.rewritten {
                    hand(made: .head(accepted.head), context: context)
                } else {
                    hand(part, data, context: context)
                }
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
            hand(part, data, context: context)
        case .end:
            requestOpen = false
            requestDeadline = nil
            if lingering { context.close(promise: nil) }
            if discarding { return }
            wait = responseDone ? .head(first: false) : .none
            arm(context: context)
            hand(part, data, context: context)
            if quiescing && responseDone && !lingering {
                // Answered before the request ended, while draining: that answer was the last.
                closeWhenWritten(context: context)
            }
        }
    }

    public func read(context: ChannelHandlerContext) {
        if applicationHoldsReads {
            // The application has enough for now (`holdReads()`): the read waits, and the client is not stalling.
            applicationReadHeld = true
            return
        }
        if !readRequested {
            readRequested = true
            if case .body = wait { arm(context: context) }  // the client's clock starts when we are ready to read
        }
        if holding && !lingering {
            // The next request waits for this one's answer: reading on would only pile requests up.
            readWithheld = true
            return
        }
        context.read()
    }

    public func channelReadComplete(context: ChannelHandlerContext) {
        readRequested = false
        context.fireChannelReadComplete()
        if http1 && readAhead.shouldReadAhead && !applicationHoldsReads && context.channel.isActive { context.read() }
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let signal = decoderSignal, let parserError = error as? HTTPParserError {
            // NIO fires (rather than throws) its error for a version other than 1.x: refine its status here.
            signal.refine(parserError)
            if holding {
                held.append(.parserError(parserError))  // answered in its turn, after the requests before it
                return
            }
        }
        handle(error, context: context)
    }

    /// The client shut its sending side (`shutdown(SHUT_WR)`, `nc -N`): a complete request still gets its answer,
    /// then the connection closes; an idle connection closes now. Draining closes an idle connection now, and a
    /// busy one after its current answer.
    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if http1 {
            if event is ChannelShouldQuiesceEvent {
                quiesce(context: context)
                return
            }
        }
        guard let event = event as? ChannelEvent, event == .inputClosed else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        if holding && !held.isEmpty {
            held.append(.inputClosed)  // after the requests before it
            return
        }
        inputDidClose(context: context)
    }

    func inputDidClose(context: ChannelHandlerContext) {
        inputClosed = true
        if lingering || (!requestOpen && !responseOpen && !answering) {
            closeWhenWritten(context: context)
            return
        }
        context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
    }

    /// A complete request is in and its answer not yet finished.
    var answering: Bool {
        if case .none = wait { return true }
        return false
    }
}

@available(*, unavailable)
extension RequestGuard: Sendable {}
