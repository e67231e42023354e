import Atomics

/// Whether an upstream server may take requests: written by its active health checker and by the outlier detector,
/// read by every event loop on every pick. Atomics, so reads need no lock. It belongs to the server, so it survives
/// reloads that keep the server.
final class ServerHealth: Sendable {
    private let healthy: ManagedAtomic<Bool>
    /// Ejected by the outlier detector until this instant (monotonic nanoseconds); 0 when not ejected.
    private let ejectedUntil = ManagedAtomic<Int64>(0)

    init(healthy: Bool = true) {
        self.healthy = ManagedAtomic(healthy)
    }

    /// What active checks say.
    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    func set(_ value: Bool) { healthy.store(value, ordering: .relaxed) }

    /// Healthy and not ejected at `now` (monotonic nanoseconds).
    func isAvailable(now: Int64) -> Bool { isHealthy && ejectedUntil.load(ordering: .relaxed) <= now }

    func isEjected(now: Int64) -> Bool { ejectedUntil.load(ordering: .relaxed) > now }

    func eject(until: Int64) { ejectedUntil.store(until, ordering: .relaxed) }
}
