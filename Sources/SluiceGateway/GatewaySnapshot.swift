import NIOCore

/// A read-only picture of the gateway's upstreams for the admin API and metrics: which servers are healthy,
/// ejected, how busy; taken without stopping traffic.
public struct GatewaySnapshot: Sendable, Equatable {
    public struct Server: Sendable, Equatable {
        public let address: String
        public let zone: String?
        public let weight: Int
        public let backup: Bool
        /// What active health checks say.
        public let healthy: Bool
        /// Ejected by the outlier detector right now.
        public let ejected: Bool
        /// Out of rotation because the gateway could not reach it (refused or timed-out connects; `max_fails`).
        public let unreachable: Bool
        /// Drained by an operator (admin API).
        public let drained: Bool
    }

    public struct Upstream: Sendable, Equatable {
        public let name: String
        public let servers: [Server]
        public let activeRequests: Int
        public let activeRetries: Int
        /// Fewer available servers than the panic threshold: traffic goes to all of them.
        public let panic: Bool
    }

    /// Configurations applied so far.
    public let generation: Int
    public let upstreams: [Upstream]
}

extension Gateway {
    /// The state of every upstream now.
    public func snapshot() -> GatewaySnapshot {
        let state = currentState
        let now = Int64(NIODeadline.now().uptimeNanoseconds)
        let upstreams = state.upstreams.values.sorted { $0.name < $1.name }.map { pool in
            let servers = pool.servers.enumerated().map { index, server in
                GatewaySnapshot.Server(
                    address: server.target.description, zone: server.zone, weight: server.weight,
                    backup: index >= pool.primaryCount, healthy: server.health.isHealthy,
                    ejected: server.health.isEjected(now: now), unreachable: server.health.isUnreachable(now: now),
                    drained: server.health.isDrained)
            }
            let available = servers.prefix(pool.primaryCount).filter { $0.healthy && !$0.ejected && !$0.unreachable && !$0.drained }.count
            return GatewaySnapshot.Upstream(
                name: pool.name, servers: servers, activeRequests: pool.activeRequests.load(ordering: .relaxed),
                activeRetries: pool.activeRetries.load(ordering: .relaxed),
                panic: Double(available) < pool.panicThreshold * Double(pool.primaryCount))
        }
        return GatewaySnapshot(generation: state.generation, upstreams: upstreams)
    }
}
