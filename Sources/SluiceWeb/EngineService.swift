import Logging
public import NIOCore
import NIOPosix
public import ServiceLifecycle
public import SluiceServer

/// An engine's server as a swift-service-lifecycle `Service`: it starts the server, and on graceful shutdown
/// (SIGTERM/SIGINT through a `ServiceGroup`) it first fails readiness for `drainDelay`, so gateways stop sending new
/// requests, then stops accepting and lets requests in flight finish for up to `gracePeriod`.
///
/// ```swift
/// let service = EngineService(engine: engine, configuration: ServerConfiguration(port: 8080))
/// let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
/// try await group.run()
/// ```
public struct EngineService: Service {
    let responder: Responder
    let readiness: Readiness
    public let configuration: ServerConfiguration
    public let drainDelay: TimeAmount
    public let gracePeriod: TimeAmount
    /// Called once the server listens, with its address (a port of 0 is then known).
    public let onStart: @Sendable (SocketAddress?) -> Void

    public init(
        engine: Engine, configuration: ServerConfiguration, drainDelay: TimeAmount = .seconds(2),
        gracePeriod: TimeAmount = .seconds(10), onStart: @escaping @Sendable (SocketAddress?) -> Void = { _ in }
    ) {
        self.responder = engine.makeResponder()
        self.readiness = engine.readiness
        self.configuration = configuration
        self.drainDelay = drainDelay
        self.gracePeriod = gracePeriod
        self.onStart = onStart
    }

    public func run() async throws {
        let server = try await responder.start(configuration, group: MultiThreadedEventLoopGroup.singleton)
        onStart(server.localAddress)
        // Returns when graceful shutdown is asked for; throws if the task is cancelled instead.
        try? await gracefulShutdown()
        readiness.startDraining()
        responder.logger.info("draining", metadata: ["delay": "\(drainDelay)"])
        if drainDelay > .zero {
            try? await MultiThreadedEventLoopGroup.singleton.next().scheduleTask(in: drainDelay) {}.futureResult.get()
        }
        await server.shutdown(gracePeriod: gracePeriod)
    }
}
