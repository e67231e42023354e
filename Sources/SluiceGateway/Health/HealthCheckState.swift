/// One server's active health state: `rise` consecutive passed probes make it healthy, `fall` consecutive failed
/// probes make it unhealthy (HAProxy's and nginx's `rise`/`fall`).
///
/// A single result never flips the state on its own (unless `rise` or `fall` is 1), so a flapping server keeps
/// the state it had: each result of the other kind resets the opposite counter.
struct HealthCheckState: Sendable, Equatable {
    /// A change of state reported by `record(success:)`.
    enum Transition: Sendable, Equatable {
        case becameHealthy
        case becameUnhealthy
    }

    /// Consecutive passed probes needed to turn an unhealthy server healthy.
    let rise: Int
    /// Consecutive failed probes needed to turn a healthy server unhealthy.
    let fall: Int
    private(set) var isHealthy: Bool
    /// Passed probes in a row, up to and including the latest (0 after a failure).
    private(set) var consecutiveSuccesses = 0
    /// Failed probes in a row, up to and including the latest (0 after a success).
    private(set) var consecutiveFailures = 0

    /// - Parameters:
    ///   - rise: at least 1. nginx's default is 1, HAProxy's 2; Sluice takes HAProxy's.
    ///   - fall: at least 1. nginx's and HAProxy's default is 3 (nginx `fails=1` is for passive checks).
    ///   - initiallyHealthy: whether a server starts in rotation before its first probe. HAProxy starts servers
    ///     up (one failure short of down); Envoy starts them failed until the first pass.
    init(rise: Int = 2, fall: Int = 3, initiallyHealthy: Bool = true) {
        precondition(rise >= 1 && fall >= 1, "rise and fall must be at least 1")
        self.rise = rise
        self.fall = fall
        self.isHealthy = initiallyHealthy
    }

    /// Records one probe result; returns the transition it caused, if any.
    ///
    /// The transition happens on the result that completes the run (the `rise`-th success or the `fall`-th
    /// failure in a row); further results of the same kind keep counting but report nothing.
    mutating func record(success: Bool) -> Transition? {
        if success {
            consecutiveFailures = 0
            consecutiveSuccesses += 1
            if !isHealthy && consecutiveSuccesses >= rise {
                isHealthy = true
                return .becameHealthy
            }
        } else {
            consecutiveSuccesses = 0
            consecutiveFailures += 1
            if isHealthy && consecutiveFailures >= fall {
                isHealthy = false
                return .becameUnhealthy
            }
        }
        return nil
    }
}
