public import NIOCore
import NIOHTTP1

/// Putting answers on the wire. On an HTTP/1 connection the guard writes the bytes itself (`ResponseEncoding`):
/// a final head waits for what follows it, so that an answer with a small body leaves as one buffer and makes one
/// pending write, not three parts through an encoder. On an HTTP/2 stream the parts go on to the HTTP/2 codec.
extension RequestGuard {
    /// Bodies up to this size are copied behind their head (or chunk size line) into one buffer.
    static var joinLimit: Int { 16 * 1024 }

    public func flush(context: ChannelHandlerContext) {
        writePendingHead(context: context)
        context.flush()
    }

    /// The waiting head's buffer to append to (taken, so the append does not copy it), or a new one.
    private func takePendingHead(orNew capacity: Int, context: ChannelHandlerContext) -> ByteBuffer {
        guard let head = pendingHead else { return context.channel.allocator.buffer(capacity: capacity) }
        pendingHead = nil
        return head
    }

    /// Writes a final head that waits for its body, if one does.
    func writePendingHead(context: ChannelHandlerContext) {
        guard let head = pendingHead else { return }
        pendingHead = nil
        context.write(NIOAny(IOData.byteBuffer(head)), promise: nil)
    }

    func emitHead<Original: OriginalPart>(
        _ head: HTTPResponseHead, original: Original, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?
    ) {
        emitHead(
            status: head.status, headers: head.headers, version: head.version, original: original, unchanged: true,
            context: context, promise: promise, added: nil)
    }

    /// Writes a head given as its parts. `original` is the part as the application wrote it, passed on as it is when
    /// nothing changed (`unchanged`); `headVersion` the version it said, for a head passed on as a part (HTTP/2).
    /// A final head with no promise waits for its body (`pendingHead`).
    func emitHead<Original: OriginalPart>(
        status: HTTPResponseStatus, headers: HTTPHeaders, version headVersion: HTTPVersion, original: Original,
        unchanged: Bool, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?,
        added: ResponseEncoding.AddedFields?
    ) {
        guard http1 else {
            let part = unchanged ? original.passedOn : nil
            context.write(
                part ?? wrapOutboundOut(.head(HTTPResponseHead(version: headVersion, status: status, headers: headers))),
                promise: promise)
            return
        }
        writePendingHead(context: context)
        var buffer = context.channel.allocator.buffer(capacity: 256)
        ResponseEncoding.writeHead(status: status, headers: headers, added: added, into: &buffer)
        if promise == nil && status.code >= 200 {
            pendingHead = buffer
        } else {
            context.write(NIOAny(IOData.byteBuffer(buffer)), promise: promise)
        }
    }

    func emitBody<Original: OriginalPart>(
        _ body: IOData, original: Original, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?
    ) {
        guard http1 else {
            context.write(original.passedOn ?? wrapOutboundOut(.body(body)), promise: promise)
            return
        }
        let size = body.readableBytes
        if size == 0 {
            // An empty chunk would end a chunked body: only its promise is kept, in order.
            writePendingHead(context: context)
            if let promise { context.write(NIOAny(IOData.byteBuffer(ByteBuffer())), promise: promise) }
            return
        }
        if case .byteBuffer(let bytes) = body, size <= Self.joinLimit {
            var buffer = takePendingHead(orNew: size + 16, context: context)
            if framing.chunked { ResponseEncoding.writeChunkSize(size, into: &buffer) }
            buffer.writeImmutableBuffer(bytes)
            if framing.chunked { buffer.writeStaticString("\r\n") }
            context.write(NIOAny(IOData.byteBuffer(buffer)), promise: promise)
            return
        }
        guard framing.chunked else {
            writePendingHead(context: context)
            context.write(NIOAny(body), promise: promise)
            return
        }
        var sizeLine = takePendingHead(orNew: 16, context: context)
        ResponseEncoding.writeChunkSize(size, into: &sizeLine)
        context.write(NIOAny(IOData.byteBuffer(sizeLine)), promise: nil)
        context.write(NIOAny(body), promise: nil)
        context.write(NIOAny(IOData.byteBuffer(ByteBuffer(staticString: "\r\n"))), promise: promise)
    }

    func emitEnd<Original: OriginalPart>(
        _ trailers: HTTPHeaders?, original: Original, context: ChannelHandlerContext, promise: EventLoopPromise<Void>?
    ) {
        guard http1 else {
            context.write(original.passedOn ?? wrapOutboundOut(.end(trailers)), promise: promise)
            return
        }
        if framing.chunked && !framing.dropsBody {
            var buffer = takePendingHead(orNew: 8, context: context)
            ResponseEncoding.writeLastChunk(trailers: trailers, into: &buffer)
            context.write(NIOAny(IOData.byteBuffer(buffer)), promise: promise)
        } else if let head = pendingHead {
            pendingHead = nil
            context.write(NIOAny(IOData.byteBuffer(head)), promise: promise)
        } else if let promise {
            // Nothing to write, but the promise completes in order with what was written before.
            context.write(NIOAny(IOData.byteBuffer(ByteBuffer())), promise: promise)
        }
    }
}

/// The part as the application wrote it, passed on unchanged where the guard does not encode (HTTP/2 streams), or
/// none (`NoOriginal`: a part from the direct link, or one the guard made). A generic parameter rather than an
/// optional `NIOAny`: an optional existential is copied and destroyed through value witnesses at every step, some
/// 400 instructions an answer that the direct link does not need to pay.
protocol OriginalPart {
    /// The part to pass on as it came, or nil to wrap it anew.
    var passedOn: NIOAny? { get }
}

extension NIOAny: OriginalPart {
    var passedOn: NIOAny? { self }
}

/// No original part to pass on.
struct NoOriginal: OriginalPart {
    var passedOn: NIOAny? { nil }
}
