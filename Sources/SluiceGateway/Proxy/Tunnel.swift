import NIOCore

/// An upgraded connection (WebSocket, after the upstream's `101 Switching Protocols`): bytes pass both ways as they
/// are, with backpressure (a side that cannot write stops the other side's reads), half-closes passed on, and an
/// idle timeout of its own (`tunnel_timeout`). Both channels are on one event loop, so the tunnel needs no locks.
///
/// It is independent of the configuration: a reload leaves it running; a drain closes it after `drain_timeout`.
final class Tunnel {
    private var client: TunnelHandler?
    private var upstream: TunnelHandler?
    private let idleTimeout: TimeAmount
    private var lastActivity = NIODeadline.now()
    private var timer: Scheduled<Void>?
    private let onClose: () -> Void
    private var closed = false

    private init(idleTimeout: TimeAmount, onClose: @escaping () -> Void) {
        self.idleTimeout = idleTimeout
        self.onClose = onClose
    }

    /// Turns two channels whose HTTP handlers were removed into one tunnel. Call on their (shared) event loop.
    static func splice(
        client: any Channel, upstream: any Channel, idleTimeout: TimeAmount, onClose: @escaping () -> Void
    ) throws {
        let tunnel = Tunnel(idleTimeout: idleTimeout, onClose: onClose)
        let clientSide = TunnelHandler(tunnel: tunnel)
        let upstreamSide = TunnelHandler(tunnel: tunnel)
        clientSide.peer = upstreamSide
        upstreamSide.peer = clientSide
        tunnel.client = clientSide
        tunnel.upstream = upstreamSide
        try client.pipeline.syncOperations.addHandler(clientSide)
        try upstream.pipeline.syncOperations.addHandler(upstreamSide)
        tunnel.armTimer(on: client.eventLoop)
        client.read()
        upstream.read()
    }

    func touched() { lastActivity = .now() }

    private func armTimer(on loop: any EventLoop) {
        timer = loop.assumeIsolated().scheduleTask(deadline: lastActivity + idleTimeout) { [self] in
            guard !closed else { return }
            if NIODeadline.now() - lastActivity >= idleTimeout {
                close()
            } else {
                armTimer(on: loop)
            }
        }
    }

    /// Closes both sides (once).
    func close() {
        guard !closed else { return }
        closed = true
        timer?.cancel()
        timer = nil
        let sides = [client, upstream]
        client = nil
        upstream = nil
        for side in sides { side?.closeChannel() }
        onClose()
    }
}

/// One side of a `Tunnel`: what it reads is written to the peer.
final class TunnelHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    // Strong: the tunnel lets go of its handlers when it closes, and each handler of its peer when removed.
    private let tunnel: Tunnel
    var peer: TunnelHandler?
    private var context: ChannelHandlerContext?
    private var readsPaused = false
    private var readPending = false
    private var pendingFlush = false

    init(tunnel: Tunnel) { self.tunnel = tunnel }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
        peer = nil
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        tunnel.touched()
        peer?.send(unwrapInboundIn(data))
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        peer?.flushIfNeeded()
        context.fireChannelReadComplete()
    }

    /// Writes bytes from the peer; pauses the peer's reads while this side cannot take more.
    func send(_ bytes: ByteBuffer) {
        guard let context else { return }
        context.write(wrapOutboundOut(bytes), promise: nil)
        pendingFlush = true
        if !context.channel.isWritable { peer?.readsPaused = true }
    }

    func flushIfNeeded() {
        guard pendingFlush, let context else { return }
        pendingFlush = false
        context.flush()
    }

    func read(context: ChannelHandlerContext) {
        if readsPaused {
            readPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { peer?.resumeReads() }
        context.fireChannelWritabilityChanged()
    }

    private func resumeReads() {
        readsPaused = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? ChannelEvent, case .inputClosed = event {
            // The sender is done: pass the half-close on, keep the other direction open.
            peer?.shutdownOutput()
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func shutdownOutput() {
        guard let context else { return }
        flushIfNeeded()
        context.close(mode: .output).assumeIsolated().whenFailure { [tunnel] _ in tunnel.close() }
    }

    func channelInactive(context: ChannelHandlerContext) {
        peer?.flushIfNeeded()
        tunnel.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        tunnel.close()
    }

    /// Closes this side once what was written to it is out (a close discards unwritten data: the last frames,
    /// a WebSocket close frame among them, would be lost to a slow reader).
    func closeChannel() {
        guard let context else { return }
        pendingFlush = false
        context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
        // A reader that never reads does not hold the connection: closed after 5 s whatever is left.
        context.eventLoop.assumeIsolated().scheduleTask(in: .seconds(5)) { context.close(promise: nil) }
    }
}

@available(*, unavailable)
extension Tunnel: Sendable {}

@available(*, unavailable)
extension TunnelHandler: Sendable {}
