import NIOCore
import NIOHTTP1

/// What an upstream connection reports to the exchange it is serving.
protocol UpstreamExchange: AnyObject {
    func upstreamRead(_ part: HTTPClientResponsePart)
    func upstreamReadComplete()
    func upstreamWritabilityChanged(writable: Bool)
    /// The connection failed or closed before the exchange released it.
    func upstreamClosed(error: (any Error)?)
}

/// One keep-alive HTTP/1.1 connection to an upstream server, and the handler at the end of its pipeline.
///
/// It lives on one event loop, the same as the client connections it serves, so forwarding never hops threads. While
/// an exchange holds it, response parts go to that exchange; while idle in its pool, any read is a protocol error and
/// a close removes it from the pool.
final class UpstreamConnection: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPClientRequestPart
    typealias OutboundOut = HTTPClientRequestPart

    private(set) var context: ChannelHandlerContext?
    /// The exchange being served, if any. Strong, and cleared on release, so the two never outlive each other.
    var exchange: (any UpstreamExchange)?
    /// The pool it goes back to. Strong, and cleared when the pool retires it or its channel goes away, so neither
    /// keeps the other alive. (Not `weak`: a weak reference gives the pool a side table that LeakSanitizer cannot
    /// see through, reported as a leak whenever a pool outlives its last connection; and each load costs more.)
    var pool: ConnectionPool?
    /// Requests sent on this connection so far (for `keepalive_requests`).
    var requestCount = 0
    /// When it was last put back into its pool.
    var idleSince = NIODeadline.uptimeNanoseconds(0)
    private var readsPaused = false
    private var readPending = false
    private(set) var isClosed = false
    /// Inside a read: parts are being delivered, and more may follow before `channelReadComplete`.
    private(set) var isReading = false
    /// A release put off until the current read completes (see `ConnectionPool.release`).
    var releaseAfterRead = false
    /// The connection became a tunnel: what the parser still delivers (the 101's end) is not an answer.
    var tunneling = false

    var isActive: Bool { !isClosed && (context?.channel.isActive ?? false) }
    var isWritable: Bool { context?.channel.isWritable ?? false }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// The handler and its context hold each other: let go, or every connection would outlive its channel.
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        exchange = nil
        releaseAfterRead = false
        pool = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        isReading = true
        let part = unwrapInboundIn(data)
        if tunneling { return }
        guard let exchange else {
            // An idle connection has nothing to say; whatever this is, the connection is no longer in step.
            isClosed = true
            context.close(promise: nil)
            return
        }
        exchange.upstreamRead(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        isReading = false
        exchange?.upstreamReadComplete()
        finishDeferredRelease()
        context.fireChannelReadComplete()
    }

    /// Runs a release the pool put off until the current read was fully parsed.
    private func finishDeferredRelease() {
        guard releaseAfterRead else { return }
        releaseAfterRead = false
        if let pool {
            pool.release(self, reusable: !isClosed)
        } else {
            close()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        exchange?.upstreamWritabilityChanged(writable: context.channel.isWritable)
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        isClosed = true
        isReading = false
        finishDeferredRelease()
        if let exchange {
            self.exchange = nil
            exchange.upstreamClosed(error: nil)
        } else {
            pool?.idleConnectionClosed(self)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        isClosed = true
        if let exchange {
            self.exchange = nil
            exchange.upstreamClosed(error: error)
        }
        context.close(promise: nil)
    }

    /// Holds reads back while the client cannot take more (backpressure from a slow client).
    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    func pauseReads() { readsPaused = true }

    func resumeReads() {
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func write(_ part: HTTPClientRequestPart) {
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func flush() { context?.flush() }

    func close() {
        isClosed = true
        exchange = nil
        context?.close(promise: nil)
    }
}

@available(*, unavailable)
extension UpstreamConnection: Sendable {}
