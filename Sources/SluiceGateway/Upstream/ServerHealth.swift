import Atomics
import NIOCore

/// Whether an upstream server may take requests: written by its active health checker and by the outlier detector,
/// read by every event loop on every pick. Atomics, so reads need no lock. It belongs to the server, so it survives
/// reloads that keep the server.
final class ServerHealth: Sendable {
    private let healthy: ManagedAtomic<Bool>
    /// Ejected by the outlier detector until this instant (monotonic nanoseconds); 0 when not ejected.
    private let ejectedUntil = ManagedAtomic<Int64>(0)
    /// When active checks last found it healthy again (monotonic nanoseconds); 0 when it has always been.
    private let healthySince = ManagedAtomic<Int64>(0)

    init(healthy: Bool = true) {
        self.healthy = ManagedAtomic(healthy)
    }

    /// What active checks say.
    var isHealthy: Bool { healthy.load(ordering: .relaxed) }

    /// Records what active checks found. Coming back healthy also lifts an outlier ejection, as Envoy does
    /// (`successful_active_health_check_uneject_host`): a passing check is fresher news than old failures.
    func set(_ value: Bool) {
        let was = healthy.exchange(value, ordering: .relaxed)
        if value && !was {
            healthySince.store(Int64(NIODeadline.now().uptimeNanoseconds), ordering: .relaxed)
            ejectedUntil.store(0, ordering: .relaxed)
        }
    }

    /// Since when it has been available: back from unhealthy or from an ejection, whichever was later (for slow
    /// start).
    var availableSince: Int64 { max(healthySince.load(ordering: .relaxed), ejectedUntil.load(ordering: .relaxed)) }

    /// Healthy and not ejected at `now` (monotonic nanoseconds).
    func isAvailable(now: Int64) -> Bool { isHealthy && ejectedUntil.load(ordering: .relaxed) <= now }

    func isEjected(now: Int64) -> Bool { ejectedUntil.load(ordering: .relaxed) > now }

    func eject(until: Int64) { ejectedUntil.store(until, ordering: .relaxed) }
}
