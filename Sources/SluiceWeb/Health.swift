import Atomics
import NIOCore
import NIOHTTP1
public import SluiceRouter

/// Who this instance is, as reported on its health endpoints and to the gateway.
public struct InstanceInfo: Sendable, Equatable {
    /// The instance's name (default: the host name and port are not known yet, so `"sluiceweb"`).
    public var name: String
    /// The zone it runs in (`az1`), for the gateway's zone-aware routing; nil when not set.
    public var zone: String?

    public init(name: String = "sluiceweb", zone: String? = nil) {
        self.name = name
        self.zone = zone
    }
}

/// Whether the instance takes new work: readiness turns false when draining starts, before the server stops, so a
/// gateway's active health checks take the instance out of rotation while it still answers.
public final class Readiness: Sendable {
    private let draining = ManagedAtomic(false)

    public init() {}

    /// Whether draining has started.
    public var isDraining: Bool { draining.load(ordering: .relaxed) }

    /// Readiness checks fail from now on; liveness still passes.
    public func startDraining() { draining.store(true, ordering: .relaxed) }
}

extension Engine {
    /// Mounts a liveness endpoint (`GET`/`HEAD liveness`, always 200 while the process serves) and a readiness one
    /// (`readiness`: 200, or 503 `{"status":"draining"}` once `readiness.startDraining()` ran, as it does when an
    /// `EngineService` is asked to stop). Both report the instance's name and zone. Point the gateway's
    /// `health_check` at the readiness path.
    public func health(liveness: String = "/healthz", readiness path: String = "/readyz") throws(RouterError) {
        let instance = self.instance
        let readiness = self.readiness
        try get(liveness) { c in
            try c.json(.ok, HealthAnswer(status: "ok", instance: instance.name, zone: instance.zone))
        }
        try get(path) { c in
            c.setHeader("cache-control", "no-store")
            if readiness.isDraining {
                c.setHeader("connection", "close")
                try c.json(.serviceUnavailable, HealthAnswer(status: "draining", instance: instance.name, zone: instance.zone))
            } else {
                try c.json(.ok, HealthAnswer(status: "ready", instance: instance.name, zone: instance.zone))
            }
        }
    }
}

private struct HealthAnswer: Encodable {
    let status: String
    let instance: String
    let zone: String?
}
