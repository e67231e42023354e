public import NIOCore
public import NIOHTTP1

/// Errors the server layer reports down the pipeline, so the application handler knows a request was cut off.
public enum HTTPServerError: Error, Hashable, Sendable {
    /// The request body grew past `ServerConfiguration.maxBodySize`; the server answered 413 if it could.
    case requestBodyTooLarge
    /// The client stopped sending the body for longer than `requestReadTimeout`; the server answered 408 if it could.
    case requestReadTimeout
}

/// Sits between NIO's HTTP/1.1 codec and the application handler and enforces what a client may do:
/// malformed requests get 400, oversized heads 431, oversized bodies 413, stalled bodies 408, and connections that
/// stay silent too long are closed (slow loris).
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
    private var bodyBytes = 0
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?
    /// Whether the application has asked for more data since the last read completed. When it holds reads back
    /// (a proxy whose upstream is slow), the client is not the one stalling, and the body timeout waits.
    private var readRequested = false

    public init(configuration: ServerConfiguration) {
        self.configuration = configuration
    }

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { arm(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        arm(context: context)
        context.fireChannelActive()
    }

    public func handlerRemoved(context: ChannelHandlerContext) {
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
        switch part {
        case .head(let head):
            requestOpen = true
            responseDone = false
            bodyBytes = 0
            wait = .body
            arm(context: context)
            if let length = head.headers.first(name: "content-length").flatMap(Int.init), length > configuration.maxBodySize {
                reject(context: context, status: .payloadTooLarge)
                return
            }
            context.fireChannelRead(data)
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
        case .head(let head) where head.status.code >= 200:
            responseOpen = true
        case .head, .body:
            break
        case .end:
            responseOpen = false
            responseDone = true
            if !requestOpen {
                wait = .head(first: false)
                arm(context: context)
            }
        }
        context.write(data, promise: promise)
    }

    public func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parserError = error as? HTTPParserError else {
            context.fireErrorCaught(error)
            return
        }
        // The decoder closes the connection after this returns; answer first if no answer has started.
        if !responseOpen {
            let status: HTTPResponseStatus = parserError == .headerOverflow ? .requestHeaderFieldsTooLarge : .badRequest
            writeError(context: context, status: status)
        }
        context.fireErrorCaught(error)
    }

    // MARK: Rejecting

    private func reject(context: ChannelHandlerContext, status: HTTPResponseStatus) {
        discarding = true
        timer?.cancel()
        timer = nil
        deadline = nil
        if responseOpen {
            context.close(promise: nil)
        } else {
            writeError(context: context, status: status)
        }
    }

    /// Writes a short error answer with `Connection: close`, then closes.
    private func writeError(context: ChannelHandlerContext, status: HTTPResponseStatus) {
        let body = "\(status.code) \(status.reasonPhrase)\n"
        var headers = HTTPHeaders()
        headers.reserveCapacity(5)
        if let server = configuration.serverName { headers.add(name: "server", value: server) }
        headers.add(name: "date", value: HTTPDate.now())
        headers.add(name: "content-type", value: "text/plain; charset=utf-8")
        headers.add(name: "content-length", value: String(body.utf8.count))
        headers.add(name: "connection", value: "close")
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    // MARK: Timers

    private var timeout: TimeAmount? {
        switch wait {
        case .head(let first): first ? configuration.requestReadTimeout : configuration.idleTimeout
        case .body: configuration.requestReadTimeout
        case .none: nil
        }
    }

    /// Moves the deadline for what the connection waits for now; schedules a task only if none is pending.
    private func arm(context: ChannelHandlerContext) {
        guard let timeout else {
            deadline = nil
            return
        }
        let next = context.eventLoop.now + timeout
        deadline = next
        if timer == nil { schedule(context: context, at: next) }
    }

    private func schedule(context: ChannelHandlerContext, at when: NIODeadline) {
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
        switch wait {
        case .body where !readRequested:
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
