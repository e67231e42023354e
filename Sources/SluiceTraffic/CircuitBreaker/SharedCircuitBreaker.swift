import Synchronization

/// A `CircuitBreaker` behind a `Mutex`: one per upstream, shared by every event loop. Same API and semantics;
/// each call holds the lock only for the state machine's few comparisons.
public final class SharedCircuitBreaker: Sendable {
    public let policy: CircuitBreakerPolicy
    private let breaker: Mutex<CircuitBreaker>

    public init(policy: CircuitBreakerPolicy = CircuitBreakerPolicy()) {
        self.policy = policy
        self.breaker = Mutex(CircuitBreaker(policy: policy))
    }

    public func tryAcquire(now: Duration) -> CircuitAdmission {
        breaker.withLock { $0.tryAcquire(now: now) }
    }

    public func tryAcquireReporting(now: Duration) -> (admission: CircuitAdmission, transition: CircuitTransition?) {
        breaker.withLock { $0.tryAcquireReporting(now: now) }
    }

    @discardableResult
    public func record(_ permit: CircuitPermit, failed: Bool, duration: Duration, now: Duration) -> CircuitTransition? {
        breaker.withLock { $0.record(permit, failed: failed, duration: duration, now: now) }
    }

    @discardableResult
    public func release(_ permit: CircuitPermit, now: Duration) -> CircuitTransition? {
        breaker.withLock { $0.release(permit, now: now) }
    }

    @discardableResult
    public func tick(now: Duration) -> CircuitTransition? {
        breaker.withLock { $0.tick(now: now) }
    }

    public func state(now: Duration) -> CircuitState {
        breaker.withLock { $0.state(now: now) }
    }

    public var snapshot: CircuitSnapshot {
        breaker.withLock { $0.snapshot }
    }

    public func snapshot(now: Duration) -> CircuitSnapshot {
        breaker.withLock { $0.snapshot(now: now) }
    }
}
