import Atomics
import Logging

/// Everything a request needs to be routed, compiled from one configuration: immutable, swapped whole on reload.
/// In-flight requests keep the state they started with.
final class RuntimeState: AtomicReference, Sendable {
    let routes: RouteTable
    let upstreams: [String: UpstreamPool]
    /// Counts reloads; 1 for the first configuration.
    let generation: Int

    init(routes: RouteTable, upstreams: [String: UpstreamPool], generation: Int) {
        self.routes = routes
        self.upstreams = upstreams
        self.generation = generation
    }
}

/// What every proxy connection shares: the current state, counters, logging.
final class ProxyContext: Sendable {
    private let current: ManagedAtomic<RuntimeState>
    let stats: GatewayStats
    let logger: Logger
    let accessLog: Bool

    init(state: RuntimeState, stats: GatewayStats, logger: Logger, accessLog: Bool) {
        self.current = ManagedAtomic(state)
        self.stats = stats
        self.logger = logger
        self.accessLog = accessLog
    }

    /// The state new requests use.
    var state: RuntimeState { current.load(ordering: .acquiring) }

    /// Installs a new state; returns the old one.
    @discardableResult
    func swap(_ state: RuntimeState) -> RuntimeState { current.exchange(state, ordering: .acquiringAndReleasing) }
}
