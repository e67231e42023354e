import NIOCore
import NIOHTTP1
import NIOHTTP2

/// Refusing a request, closing a connection cleanly, and the connection's one timer.
extension RequestGuard {
    // MARK: Rejecting

    func reject(context: ChannelHandlerContext, status: HTTPResponseStatus, extra: [(String, String)] = []) {
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
    func writeError(context: ChannelHandlerContext, status: HTTPResponseStatus, extra: [(String, String)]) {
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
        framing = ResponseFraming(dropsBody: method == .HEAD, closesConnection: true)
        let head = HTTPResponseHead(version: .http1_1, status: status, headers: headers)
        emitHead(head, original: NoOriginal(), context: context, promise: nil)
        if method != .HEAD {
            let bytes = context.channel.allocator.buffer(string: body)
            emitBody(.byteBuffer(bytes), original: NoOriginal(), context: context, promise: nil)
        }
        // A client that does not read (a full TCP window, an HTTP/2 stream window of 0) would keep the write, and so
        // the connection, pending forever: past this deadline it is closed whatever was written.
        let deadline = context.eventLoop.assumeIsolated().scheduleTask(
            in: configuration.lingerTimeout + configuration.requestReadTimeout
        ) { context.close(promise: nil) }
        if http1 { readAhead.responseHead(keepAlive: false) }
        let written = context.eventLoop.makePromise(of: Void.self)
        emitEnd(nil, original: NoOriginal(), context: context, promise: written)
        context.flush()
        written.futureResult.assumeIsolated().whenComplete { [self] _ in
            deadline.cancel()
            close(context: context)
        }
        if http1 { answered(context: context) }
    }

    /// Closes once what was written has gone out: events (a parser error, a half-close) can arrive from inside the
    /// write of an answer's end, before it is flushed, and a close then would drop the answer.
    func closeWhenWritten(context: ChannelHandlerContext) {
        writePendingHead(context: context)
        context.flush()
        if let lastEnd {
            lastEnd.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else if http1 {
            // An empty write completes after everything written before it.
            let marker = context.eventLoop.makePromise(of: Void.self)
            context.writeAndFlush(NIOAny(IOData.byteBuffer(ByteBuffer())), promise: marker)
            marker.futureResult.assumeIsolated().whenComplete { _ in context.close(promise: nil) }
        } else {
            context.close(promise: nil)
        }
    }

    /// Closes after an answer. While the client may still be sending the request (a body the answer came before),
    /// closing at once would reset the connection and could destroy the answer in flight; like nginx's lingering
    /// close, the sending side is shut and what arrives is read and dropped until the client closes its side or
    /// `lingerTimeout` passes.
    func close(context: ChannelHandlerContext) {
        guard requestOpen || unparsable, context.channel.isActive else {
            context.close(promise: nil)
            return
        }
        discarding = true
        lingering = true
        timer?.cancel()
        timer = nil
        deadline = nil
        held.removeAll()
        if readWithheld {
            readWithheld = false  // lingering reads whatever comes, to drop it
            context.read()
        }
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

    // MARK: Timers

    private var timeout: TimeAmount? {
        switch wait {
        case .head(let first): first ? configuration.requestReadTimeout : configuration.idleTimeout
        case .body: configuration.bodyReadTimeout ?? configuration.requestReadTimeout
        case .none: nil
        }
    }

    /// Moves the deadline for what the connection waits for now; schedules a task only if none is pending.
    func arm(context: ChannelHandlerContext) {
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

    func schedule(context: ChannelHandlerContext, at when: NIODeadline) {
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

    func expire(context: ChannelHandlerContext) {
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
