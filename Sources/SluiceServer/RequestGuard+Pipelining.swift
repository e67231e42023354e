import NIOCore
import NIOHTTP1

/// What arrived on an HTTP/1 connection while the request before it waited for its answer.
enum HeldEvent {
    case read(NIOAny)
    case parserError(HTTPParserError)
    case inputClosed
}

/// The HTTP/1 connection's duties, which NIO's `HTTPServerPipelineHandler` and a handler of our own did before, in
/// two more hops per request part:
///
/// - **One request at a time.** Once the request handed to the application has ended, whatever arrives behind it
///   (pipelined requests, a parser error, a half-close) is held until its answer's end has been written, then
///   handed on in order. Reads are withheld meanwhile, so a client that pipelines without reading answers buffers
///   at most what the read-ahead let in.
/// - **Read-ahead.** While exactly one request waits for its answer and nothing has arrived behind it, a read
///   stays armed (`ReadAheadPolicy`): no `epoll_ctl` pair per keep-alive request.
/// - **The decoder's signal.** `RearmingRequestDecoder` is told when the request that just ended made llhttp stop.
/// - **Draining.** `ChannelShouldQuiesceEvent` closes an idle connection at once, and a busy one after its current
///   answer, which says `Connection: close` if it has not started yet; nothing pipelined behind it is taken.
extension RequestGuard {
    /// The request handed on has ended and its answer is not all written: what arrives now waits.
    var holding: Bool { answerPending && !requestOpen && http1 }

    /// Watches each part as the parser delivers it, before anything is held back.
    func watch(_ part: HTTPServerRequestPart, signal: RearmingRequestDecoder.Signal) {
        signal.rearm = false
        switch part {
        case .head(let head):
            // llhttp's own rule: it stops after CONNECT, and after `Upgrade` with a `Connection: upgrade` token.
            stopsParser = head.method.is(.CONNECT) || RequestHeadCheck.asksForUpgrade(head.headers)
            readAhead.requestHead(keepAlive: head.isKeepAlive)
        case .body:
            break
        case .end:
            signal.lineEnd = nil
            signal.endsSinceInput += 1
            if stopsParser {
                // Anything parsed after this end means the parser went on after all, and the signal is withdrawn.
                stopsParser = false
                signal.rearm = true
            }
            readAhead.requestEnd()
        }
    }

    /// Whether an arriving part is dropped (draining: no new request is taken) or held for its turn.
    func keepsBack(_ data: NIOAny) -> Bool {
        if quiescing && !requestOpen && !lingering { return true }
        if holding || !held.isEmpty {
            held.append(.read(data))
            return true
        }
        return false
    }

    /// The answer's end has been written: hands on what was held, and lets reading go on.
    func answered(context: ChannelHandlerContext) {
        answerPending = false
        readAhead.responseEnd()
        if !held.isEmpty { deliverHeld(context: context) }
        if readWithheld && !holding {
            readWithheld = false
            context.read()
        }
    }

    private func deliverHeld(context: ChannelHandlerContext) {
        var delivered = false
        while !holding, let event = held.popFirst() {
            switch event {
            case .read(let data):
                deliver(unwrapInboundIn(data), data, context: context)
                delivered = true
            case .parserError(let error):
                handle(error, context: context)
            case .inputClosed:
                readWithheld = false
                inputDidClose(context: context)
            }
        }
        if delivered {
            readRequested = false
            context.fireChannelReadComplete()
        }
        if case .some(.inputClosed) = held.first {
            // A half-close right behind the request just handed on: it need not wait for that one's answer.
            held.removeFirst()
            readWithheld = false
            inputDidClose(context: context)
        }
    }

    func quiesce(context: ChannelHandlerContext) {
        guard !quiescing else { return }
        quiescing = true
        held.removeAll()
        if lingering { return }
        if !requestOpen && !answerPending {
            closeWhenWritten(context: context)
        } else {
            keepAlive = false  // an answer not yet begun says `Connection: close`; one under way closes after its end
        }
    }

    /// Taken off the connection (after a protocol switch): what was held goes on to the application's handlers.
    func passHeldOn(context: ChannelHandlerContext) {
        let events = held
        held.removeAll()
        for event in events {
            switch event {
            case .read(let data): context.fireChannelRead(data)
            case .parserError(let error): context.fireErrorCaught(error)
            case .inputClosed: context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            }
        }
        if quiescing { context.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        if readWithheld {
            readWithheld = false
            context.read()
        }
    }
}
