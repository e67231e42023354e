import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// Whether an upstream server may take requests: written by its active health checker, the outlier detector and
/// the gateway's own failed connects (`LocalOriginFailures`), read by every event loop on every pick. Atomics, so
/// reads need no lock. It belongs to the server, so it survives reloads that keep the server.
final class ServerHealth: Sendable {
    private let healthy: ManagedAtomic<Bool>
    /// Ejected by the outlier detector until this instant (monotonic nanoseconds); 0 when not ejected.
    private let ejectedUntil = ManagedAtomic<Int64>(0)
    /// When active checks last found it healthy again (monotonic nanoseconds); 0 when it has always been.
    private let healthySince = ManagedAtomic<Int64>(0)
    /// Local-origin failures (refused connects and the like): the decisions, behind a lock (they are rare)...
    private let localOrigin: NIOLockedValueBox<LocalOriginFailures>
    /// ... and what picks read without it: out until this instant (monotonic nanoseconds), `Int64.max` while it
    /// waits for a passing check, 0 in rotation.
    private let localOutUntil = ManagedAtomic<Int64>(0)
    /// No local-origin failure counted: an answer has nothing to record (the common case, without the lock).
    private let localClean = ManagedAtomic<Bool>(true)
    /// Drained by an operator (admin API): no new requests, even in panic; requests in flight finish.
    private let drained = ManagedAtomic<Bool>(false)

    init(healthy: Bool = true, localOrigin: LocalOriginFailures.Settings = .init()) {
        self.healthy = ManagedAtomic(healthy)
        self.localOrigin = NIOLockedValueBox(LocalOriginFailures(settings: localOrigin))
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

    /// Healthy, not ejected, not drained and reachable at `now` (monotonic nanoseconds).
    func isAvailable(now: Int64) -> Bool {
        isHealthy && ejectedUntil.load(ordering: .relaxed) <= now && localOutUntil.load(ordering: .relaxed) <= now
            && !isDrained
    }

    /// Drained by an operator: picks skip it whatever else happens.
    var isDrained: Bool { drained.load(ordering: .relaxed) }

    /// Drains the server (true) or puts it back (false); returns whether that changed anything.
    @discardableResult
    func setDrained(_ value: Bool) -> Bool { drained.exchange(value, ordering: .relaxed) != value }

    func isEjected(now: Int64) -> Bool { ejectedUntil.load(ordering: .relaxed) > now }

    /// Taken out of rotation by the gateway's own failed connects at `now`.
    func isUnreachable(now: Int64) -> Bool { localOutUntil.load(ordering: .relaxed) > now }

    func eject(until: Int64) { ejectedUntil.store(until, ordering: .relaxed) }

    // MARK: Local-origin failures

    /// A refused or timed-out connect, or a fresh connection closed before any answer. Returns the transition it
    /// caused, for the log.
    @discardableResult
    func recordLocalFailure(now: Int64) -> LocalOriginFailures.Transition? {
        updateLocalOrigin { $0.failure(now: .nanoseconds(now)) }
    }

    /// A local-origin failure is on record (counted, or the server is out): an answer has something to change.
    var hasLocalFailures: Bool { !localClean.load(ordering: .relaxed) }

    /// The server answered.
    @discardableResult
    func recordAnswer(now: Int64) -> LocalOriginFailures.Transition? {
        guard hasLocalFailures else { return nil }
        return updateLocalOrigin { $0.success(now: .nanoseconds(now)) }
    }

    /// An active check passed (called on every pass, not only on a change of state).
    @discardableResult
    func checkPassed() -> LocalOriginFailures.Transition? {
        guard hasLocalFailures else { return nil }
        return updateLocalOrigin { $0.checkPassed() }
    }

    private func updateLocalOrigin(
        _ body: (inout LocalOriginFailures) -> LocalOriginFailures.Transition?
    ) -> LocalOriginFailures.Transition? {
        localOrigin.withLockedValue { state in
            let transition = body(&state)
            switch transition {
            case .out(let until): localOutUntil.store(until?.wholeNanoseconds ?? .max, ordering: .relaxed)
            case .back: localOutUntil.store(0, ordering: .relaxed)
            case nil: break
            }
            localClean.store(state.isClean, ordering: .relaxed)
            return transition
        }
    }
}
