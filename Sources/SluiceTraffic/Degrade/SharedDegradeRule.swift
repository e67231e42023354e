import Synchronization

/// A `DegradeRule` behind a `Mutex`, shared by every event loop serving the route. Same API and semantics.
public final class SharedDegradeRule: Sendable {
    public let policy: DegradePolicy
    private let rule: Mutex<DegradeRule>

    public init(policy: DegradePolicy) {
        self.policy = policy
        self.rule = Mutex(DegradeRule(policy: policy))
    }

    public func admit(now: Duration) -> DegradeAdmission {
        rule.withLock { $0.admit(now: now) }
    }

    @discardableResult
    public func record(latency: Duration, failed: Bool, probe: Bool, now: Duration) -> DegradeTransition? {
        rule.withLock { $0.record(latency: latency, failed: failed, probe: probe, now: now) }
    }

    public func state(now: Duration) -> DegradeState {
        rule.withLock { $0.state(now: now) }
    }

    public var snapshot: DegradeSnapshot {
        rule.withLock { $0.snapshot }
    }

    public func snapshot(now: Duration) -> DegradeSnapshot {
        rule.withLock { $0.snapshot(now: now) }
    }
}
