import Atomics

/// Whether an upstream server is taken as healthy: written by its health checker, read by every event loop on every
/// pick. One atomic, so reads cost nothing and need no lock.
final class ServerHealth: Sendable {
    private let healthy: ManagedAtomic<Bool>

    init(healthy: Bool = true) {
        self.healthy = ManagedAtomic(healthy)
    }

    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    func set(_ value: Bool) { healthy.store(value, ordering: .relaxed) }
}
