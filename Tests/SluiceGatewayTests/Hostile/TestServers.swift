import Logging
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceGateway

/// A server on an ephemeral 127.0.0.1 port whose connections get `initialize`'s handlers.
func startLoopbackServer(_ initialize: @escaping @Sendable (any Channel) throws -> Void) async throws -> any Channel {
    try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        .childChannelInitializer { channel in channel.eventLoop.makeCompletedFuture { try initialize(channel) } }
        .bind(host: "127.0.0.1", port: 0).get()
}

/// Starts a gateway from INI `text`, runs `body` with its first listener's port, and shuts it down either way.
func withConfiguredGateway(_ text: String, _ body: (_ port: Int) async throws -> Void) async throws {
    var logger = Logger(label: "test.gateway")
    logger.logLevel = .critical
    let gateway = try Gateway(config: try ConfigLoader.parse(text), logger: logger)
    try await gateway.start()
    do {
        try await body(gateway.listeningAddresses[0].port!)
    } catch {
        await gateway.shutdown()
        throw error
    }
    await gateway.shutdown()
}
