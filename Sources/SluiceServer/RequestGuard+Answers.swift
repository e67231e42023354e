public import NIOCore
import NIOHTTP1

/// Answers on their way out: one per request, framed for it (`ResponseFraming`); and errors on their way in.
extension RequestGuard {
    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        write(unwrapOutboundIn(data), original: data, context: context, promise: promise)
    }

    /// A final head (2xx–5xx), as its parts: the direct link writes one without making an `HTTPResponseHead`.
    /// `headVersion` is the version the head said, kept only for a head passed on as a part (HTTP/2).
    func writeFinalHead<Original: OriginalPart>(
        status: HTTPResponseStatus, headers: HTTPHeaders, version headVersion: HTTPVersion, original: Original,
        context: ChannelHandlerContext, promise: EventLoopPromise<Void>?, added: ResponseEncoding.AddedFields?
    ) {
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
        if http1 && configuration.validateOutboundHeaders && !ResponseHeaderCheck.isValidToSend(headers) {
            // A field that could split the head (CR, LF, NUL) or is no token: a 500 instead, never the field.
            responseOpen = false
            promise?.fail(HTTPParserError.invalidHeaderToken)
            reject(context: context, status: .internalServerError)
            droppingResponse = true
            return
        }
        // The encoding writes HTTP/1.1 whatever the head says (a server answers in its own version, RFC 9110
        // §6.2), and chunks by the framing, so what the framing says and what is sent are one.
        var rewrote = false
        var headers = headers
        framing = ResponseFraming.frame(
            status: status, headers: &headers, method: method, version: version, keepAlive: keepAlive,
            rewrote: &rewrote, lengthAdded: added?.contentLength != nil)
        closing = framing.closesConnection
        if closing { readAhead.responseHead(keepAlive: false) }
        // An unchanged head goes on as it came: no new box for it.
        emitHead(
            status: status, headers: headers, version: headVersion, original: original, unchanged: !rewrote,
            context: context, promise: promise, added: added)
    }

    /// `original` is the part as the application wrote it (`NoOriginal` when it came over the direct link), passed on
    /// as it is when nothing changed. `added`: fields a final head leaves to the guard (`writeHeadFromNext`).
    func write<Original: OriginalPart>(
        _ part: HTTPServerResponsePart, original: Original, context: ChannelHandlerContext,
        promise: EventLoopPromise<Void>?, added: ResponseEncoding.AddedFields? = nil
    ) {
        switch part {
        case .head(let head) where head.status.code >= 200:
            writeFinalHead(
                status: head.status, headers: head.headers, version: head.version, original: original,
                context: context, promise: promise, added: added)
        case .head(let head):
            // 1xx: only to HTTP/1.1 clients, never once the final answer started.
            if responseOpen || responseDone || version.minor == 0 {
                promise?.succeed()
                return
            }
            emitHead(head, original: original, context: context, promise: promise)
        case .body(let body):
            if droppingResponse || framing.dropsBody || !responseOpen {
                promise?.succeed()
                return
            }
            emitBody(body, original: original, context: context, promise: promise)
        case .end(let trailers):
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
            let closesAfter = framing.closesConnection || inputClosed || quiescing
            if !closesAfter, promise == nil, http1 {
                // The common keep-alive answer: no promise to make (`closeWhenWritten` writes a marker instead).
                lastEnd = nil
                emitEnd(trailers, original: original, context: context, promise: nil)
            } else {
                let written = promise ?? context.eventLoop.makePromise()
                lastEnd = written.futureResult
                if closesAfter {
                    written.futureResult.assumeIsolated().whenComplete { [self] _ in close(context: context) }
                }
                emitEnd(trailers, original: original, context: context, promise: written)
            }
            // Handing on a held request may start its answer at once: after this end, not before.
            if http1 { answered(context: context) }
        }
    }

    /// An error from the parser (in its turn) or from a handler before this one.
    func handle(_ error: any Error, context: ChannelHandlerContext) {
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
}
