import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import SluiceServer

extension ProxyHandler {
    // MARK: Phase: respond, when the upstream switched protocols (WebSocket)

    /// Passes the upstream's 101 on, then splices the two connections into a `Tunnel`: the upstream connection
    /// leaves its pool, the HTTP handlers leave both pipelines (this handler too), and bytes pass as they are.
    func startTunnel(_ head: HTTPResponseHead, context: ChannelHandlerContext) {
        guard let connection, let upstreamChannel = connection.context?.channel else {
            fail(.badGateway, "upstream connection lost\n")
            return
        }
        self.connection = nil
        connection.pool?.detach(connection)
        connection.exchange = nil
        connection.tunneling = true
        var response = ProxyHeaders.clientResponse(head, version: .http1_1)
        let overHTTP2 = extendedConnect
        if overHTTP2 {
            // RFC 8441 §5: the stream's 200 is the switch; the HTTP/1.1 handshake's proof stays between the hops.
            response.status = .ok
            response.headers.remove(name: "sec-websocket-accept")
        } else {
            response.headers.add(name: "connection", value: "upgrade")
            response.headers.add(name: "upgrade", value: head.headers.first(name: "upgrade") ?? "websocket")
        }
        responseStatus = 101
        context.writeAndFlush(wrapOutboundOut(.head(response)), promise: nil)
        cancelTimer()
        let idle = route?.tunnelTimeout ?? .hours(1)
        finish(status: 101)
        let stats = shared.stats
        let client = context.channel
        let logger = shared.logger
        // After the read that carried the 101 is fully parsed (the parser stops there; what follows is the
        // tunnel's), and before the client can answer it.
        context.eventLoop.assumeIsolated().execute {
            do {
                try Self.removeApplicationHandlers(from: client)
                if overHTTP2 {
                    try HTTPServer.convertStreamToBytes(client)
                } else {
                    try HTTPServer.removeHTTPHandlers(from: client)
                }
                let upstream = upstreamChannel.pipeline.syncOperations
                upstream.removeHandler(context: try upstream.context(handlerType: UpstreamConnection.self), promise: nil)
                upstream.removeHandler(context: try upstream.context(handlerType: HTTPRequestEncoder.self), promise: nil)
                stats.tunnelsOpen.wrappingIncrement(ordering: .relaxed)
                stats.tunnels.wrappingIncrement(ordering: .relaxed)
                try Tunnel.splice(client: client, upstream: upstreamChannel, idleTimeout: idle) {
                    stats.tunnelsOpen.wrappingDecrement(ordering: .relaxed)
                }
                // Last: the response parser hands the bytes it had not parsed to the tunnel.
                upstream.removeHandler(
                    context: try upstream.context(handlerType: ByteToMessageHandler<HTTPResponseDecoder>.self),
                    promise: nil)
            } catch {
                logger.warning("could not open a tunnel", metadata: ["error": "\(error)"])
                client.close(promise: nil)
                upstreamChannel.close(promise: nil)
            }
        }
    }

    /// The gateway's own handlers on a client connection: the compressor (if any) and this handler.
    private static func removeApplicationHandlers(from channel: any Channel) throws {
        let operations = channel.pipeline.syncOperations
        if let context = try? operations.context(handlerType: PreferGzip.self) {
            operations.removeHandler(context: context, promise: nil)
        }
        if let context = try? operations.context(handlerType: HTTPResponseCompressor.self) {
            operations.removeHandler(context: context, promise: nil)
        }
        for name in GzipMeter.names {
            if let context = try? operations.context(name: name) { operations.removeHandler(context: context, promise: nil) }
        }
        operations.removeHandler(context: try operations.context(handlerType: ProxyHandler.self), promise: nil)
    }
}
