import Logging
import NIOCore
import NIOHTTP1
import SluiceServer

/// Collects a request, runs its chain on the event loop and writes the answer. One per connection; requests on a
/// connection are served one at a time (NIO's pipelining handler holds the next one back).
final class EngineChannelHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let responder: Responder
    private var head: HTTPRequestHead?
    private var body: ByteBuffer?
    private var channelContext: ChannelHandlerContext?

    init(responder: Responder) {
        self.responder = responder
    }

    func handlerAdded(context: ChannelHandlerContext) { channelContext = context }

    func handlerRemoved(context: ChannelHandlerContext) { channelContext = nil }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body = nil
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
        context.fireErrorCaught(error)
    }

    private func serve(_ head: HTTPRequestHead, _ body: ByteBuffer?, context: ChannelHandlerContext) {
        let path: Substring
        if let question = head.uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = head.uri[..<question]
        } else {
            path = head.uri[...]
        }
        let resolved = responder.resolve(method: head.method, path: path)
        let c = Context(
            head: head, body: body, channel: context.channel, eventLoop: context.eventLoop,
            allocator: context.channel.allocator, parameters: resolved.parameters, route: resolved.route,
            handlers: resolved.handlers, logger: responder.logger)
        do {
            try c.next()
        } catch {
            // Nobody recovered it: log it and answer 500 (unless an answer was already promised for later).
            responder.logger.error("handler error", metadata: ["path": "\(path)", "error": "\(error)"])
            c.pending = false
            c.text(.internalServerError, "500 internal server error\n")
        }
        if c.pending {
            c.connection = self
        } else {
            send(c)
        }
    }

    /// Writes the answer `c` holds. Runs on the event loop.
    func send(_ c: Context) {
        guard let context = channelContext else { return }
        let keepAlive = c.isKeepAlive
        let bodyLength = c.responseBody?.readableBytes ?? 0
        let bodyAllowed = c.responseStatus.mayHaveResponseBody
        // Added in place: `c.responseHeaders` is the only reference, so no copy is made.
        if bodyAllowed { c.responseHeaders.add(name: "content-length", value: String(bodyLength)) }
        c.responseHeaders.add(name: "date", value: HTTPDate.now())
        if !keepAlive {
            c.responseHeaders.replaceOrAdd(name: "connection", value: "close")
        } else if c.version.major == 1 && c.version.minor == 0 {
            c.responseHeaders.replaceOrAdd(name: "connection", value: "keep-alive")
        }
        let head = HTTPResponseHead(version: c.version, status: c.responseStatus, headers: c.responseHeaders)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        if bodyAllowed, c.method != .HEAD, let body = c.responseBody, body.readableBytes > 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
        for hook in c.finishHooks { hook(c) }
    }
}

@available(*, unavailable)
extension EngineChannelHandler: Sendable {}

extension Context {
    /// Whether the connection stays open after this answer: the client asked for it (RFC 9112 §9.3) and no handler
    /// set `Connection: close`.
    var isKeepAlive: Bool {
        guard requestKeepAlive else { return false }
        guard responseHeaders.contains(name: "connection") else { return true }
        return !responseHeaders[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
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
