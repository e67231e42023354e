/// The three states of resilience4j's circuit breaker (its `DISABLED`, `FORCED_OPEN` and `METRICS_ONLY` are not
/// modelled; an admin override belongs to the gateway).
public enum CircuitState: String, Sendable {
    case closed
    case open
    case halfOpen = "half_open"
}

/// Proof that a call was let through; hand it back to `record` or `release` when the call ends.
///
/// A permit carries the state generation it was issued in: every transition starts a new generation, and
/// outcomes of permits from an earlier one are ignored.
public struct CircuitPermit: Sendable, Hashable {
    let generation: UInt64
    let id: UInt64
    /// When the call was admitted.
    public let admittedAt: Duration
    /// A half-open probe, whose outcome helps decide whether the breaker closes.
    public let isProbe: Bool
}

/// What `tryAcquire` answers.
public enum CircuitAdmission: Sendable, Equatable {
    case permitted(CircuitPermit)
    /// Refused; `retryAfter` is when the breaker could let a call through at the earliest (the rest of the open
    /// period, or in half-open the time until the oldest probe in flight times out).
    case rejected(retryAfter: Duration)

    public var permit: CircuitPermit? {
        if case .permitted(let permit) = self { return permit }
        return nil
    }
}

/// A state change, for the gateway's log and counters.
public struct CircuitTransition: Sendable, Equatable {
    public let from: CircuitState
    public let to: CircuitState
    /// Why, in words: "failure rate 62.0% ≥ 50%", "open for 30s", "10 half-open probes: failure rate 0.0% < 50%".
    public let reason: String

    public init(from: CircuitState, to: CircuitState, reason: String) {
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// The breaker at a glance. The counts are those the current state judges by: the sliding window when closed,
/// the window that tripped it when open, the probes that reported so far when half-open.
public struct CircuitSnapshot: Sendable, Equatable {
    public let state: CircuitState
    public let calls: Int
    public let failedCalls: Int
    public let slowCalls: Int
    /// `failedCalls ÷ calls` in percent, 0 without calls.
    public let failureRatePercent: Double
    /// `slowCalls ÷ calls` in percent, 0 without calls.
    public let slowCallRatePercent: Double
    /// When open: the end of the open period.
    public let openUntil: Duration?
    /// When half-open: probes admitted that have not reported yet.
    public let probesInFlight: Int
}
