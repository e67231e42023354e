public import NIOCore
public import NIOHTTP1

/// A handler right after the guard that takes request parts from it directly (`RequestGuard.attach(_:)`), not
/// through the pipeline.
public protocol RequestPartReceiver: AnyObject {
    /// One part of a request, as `channelRead` would have had it.
    func receive(_ part: HTTPServerRequestPart)
}

/// The direct link between the guard and the application handler right after it.
///
/// Through the pipeline, each part of a request or an answer is boxed in a `NIOAny`, crosses a context and is cast
/// back: for a small request and its answer (five parts) that was about a tenth of the instructions. A handler that
/// sits right after the guard (SluiceWeb's, when `Responder` builds the pipeline) takes its request's parts from
/// here and hands its answer's parts over here, with the same effect, in the same order, as the pipeline. A handler
/// anywhere after the guard may also hold the connection's reads here (a streaming body's consumer that has
/// enough), as the guard sees every read on its way to the socket.
extension RequestGuard {
    /// From now on, request parts go to `receiver` rather than on through the pipeline (errors and events still
    /// do). Only for the handler right after this one; it detaches (`nil`) when it leaves the pipeline.
    public func attach(_ receiver: (any RequestPartReceiver)?) {
        self.receiver = receiver
    }

    /// Hands a request part on: to the attached receiver, or through the pipeline (`data` is the part as it came,
    /// re-sent as it is; a part the guard rewrote goes by `hand(made:)`).
    @inline(__always)
    func hand(_ part: HTTPServerRequestPart, _ data: NIOAny, context: ChannelHandlerContext) {
        if let receiver {
            receiver.receive(part)
        } else {
            context.fireChannelRead(data)
        }
    }

    /// `hand` for a part the guard made (a rewritten head): there is no original to pass on. Two functions, not an
    /// optional original, because wrapping a `NIOAny` in an optional copies it through its value witnesses.
    func hand(made part: HTTPServerRequestPart, context: ChannelHandlerContext) {
        if let receiver {
            receiver.receive(part)
        } else {
            context.fireChannelRead(wrapInboundOut(part))
        }
    }

    /// Writes `part` (and flushes, when `flush`) as if the handler right after this one had written it through its
    /// context. False, with nothing written, when the guard is no longer in a pipeline (it was removed after an
    /// upgrade): the caller then writes through its own context. On the loop only.
    public func writeFromNext(_ part: HTTPServerResponsePart, flush: Bool, promise: EventLoopPromise<Void>?) -> Bool {
        guard let context = ownContext else { return false }
        write(part, original: NoOriginal(), context: context, promise: promise)
        if flush { self.flush(context: context) }
        return true
    }

    /// Writes a final head as `writeFromNext(.head(head))` would once `content-length` (when given) and `date` were
    /// added to its fields, without adding them: on HTTP/1 the guard writes them after the head's fields. The head
    /// must not have either field already.
    public func writeHeadFromNext(_ head: HTTPResponseHead, contentLength: Int?, date: String) -> Bool {
        writeHeadFromNext(
            status: head.status, headers: head.headers, version: head.version, contentLength: contentLength, date: date)
    }

    /// `writeHeadFromNext` on a head's parts, so that the caller makes no `HTTPResponseHead` (a boxed value) for it.
    public func writeHeadFromNext(
        status: HTTPResponseStatus, headers: HTTPHeaders, version: HTTPVersion, contentLength: Int?, date: String
    ) -> Bool {
        guard let context = ownContext else { return false }
        guard http1 else {
            var head = HTTPResponseHead(version: version, status: status, headers: headers)
            if let contentLength { head.headers.add(name: "content-length", value: String(contentLength)) }
            head.headers.add(name: "date", value: date)
            write(.head(head), original: NoOriginal(), context: context, promise: nil)
            return true
        }
        guard status.code >= 200 else {
            // An interim head: nothing is added to it.
            let head = HTTPResponseHead(version: version, status: status, headers: headers)
            write(.head(head), original: NoOriginal(), context: context, promise: nil)
            return true
        }
        let added = ResponseEncoding.AddedFields(contentLength: contentLength, date: date)
        writeFinalHead(
            status: status, headers: headers, version: version, original: NoOriginal(), context: context,
            promise: nil, added: added)
        return true
    }

    /// Holds the connection's reads (the ones NIO makes after each read, and the guard's own read-ahead) until
    /// `releaseReads()`. While held, the client is not the one stalling: the body timer waits.
    public func holdReads() {
        applicationHoldsReads = true
    }

    /// Lets held reads go: one that came meanwhile is made now.
    public func releaseReads() {
        applicationHoldsReads = false
        guard applicationReadHeld else { return }
        applicationReadHeld = false
        if let context = ownContext { read(context: context) }
    }
}
