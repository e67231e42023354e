/// Whether one upstream server is reachable at all, from the failures the gateway itself sees: a refused or
/// timed-out connect, or a connection closed or reset before any answer. These are *local-origin* failures (Envoy's
/// term): no upstream answer says the server is sick; the gateway could not reach it. One is enough (nginx's
/// `max_fails = 1`, HAProxy's `observe layer4`, Envoy's `consecutive_local_origin_failure`) to take the server out
/// of rotation at once, on every event loop, instead of waiting for active checks to notice.
///
/// Back in rotation:
/// - with active health checks, when a check passes (`checkPassed`): the checker is the probe;
/// - without them, once `backoff` has passed, the server takes requests again as a probe. The first answer brings it
///   back; a failure takes it out again for twice as long (at most `maxBackoff`). Failures of attempts already on
///   their way when it was taken out are not news and change nothing.
///
/// Plain value logic with the time passed in (monotonic), so every path is tested without sockets.
struct LocalOriginFailures: Sendable, Equatable {
    struct Settings: Sendable, Hashable {
        /// Consecutive local-origin failures that take the server out; 0 turns this off.
        var maxFails = 1
        /// How long the server stays out before it is probed again (without active checks).
        var backoff = Duration.seconds(1)
        /// The longest backoff after repeated failed probes.
        var maxBackoff = Duration.seconds(30)
        /// With active health checks, a server that is out waits for a passing check.
        var activeChecks = false
    }

    enum Transition: Sendable, Equatable {
        /// Out of rotation until this instant, or (nil) until an active check passes.
        case out(until: Duration?)
        /// Back in rotation.
        case back
    }

    let settings: Settings
    /// Local-origin failures in a row while in rotation.
    private(set) var consecutive = 0
    /// In rotation, or taken out: until an instant (then probed), or (nil) until an active check passes.
    private enum Rotation: Equatable {
        case serving
        case out(until: Duration?)
    }

    private var rotation = Rotation.serving
    /// Whether the server is out (or being probed after its backoff).
    var isTakenOut: Bool { rotation != .serving }
    /// While out without active checks: when the next probe may go.
    var outUntil: Duration? {
        guard case .out(let until) = rotation else { return nil }
        return until
    }
    /// Failed probes since the server was taken out: the backoff doubles with each.
    private(set) var failedProbes = 0

    init(settings: Settings = Settings()) {
        self.settings = settings
    }

    /// Whether picks must skip the server at `now`.
    func isOut(now: Duration) -> Bool {
        switch rotation {
        case .serving: false
        case .out(let until?): now < until
        case .out(nil): true  // waiting for an active check
        }
    }

    /// Nothing to record on success: in rotation with no failure counted (the common case, checked without a lock).
    var isClean: Bool { !isTakenOut && consecutive == 0 }

    /// A refused or timed-out connect, or a fresh connection closed before any answer.
    mutating func failure(now: Duration) -> Transition? {
        guard settings.maxFails > 0 else { return nil }
        if isTakenOut {
            // Out: attempts that were already on their way fail too, and say nothing new. After the backoff, a
            // failed probe takes it out again for longer.
            guard let outUntil, now >= outUntil else { return nil }
            failedProbes += 1
            return takeOut(now: now)
        }
        consecutive += 1
        guard consecutive >= settings.maxFails else { return nil }
        consecutive = 0
        failedProbes = 0
        return takeOut(now: now)
    }

    /// The server answered (any status: it is reachable).
    mutating func success(now: Duration) -> Transition? {
        consecutive = 0
        // An answer to a request sent before it was taken out proves little; one after the backoff is the probe.
        guard isTakenOut, !isOut(now: now), !settings.activeChecks else { return nil }
        return bringBack()
    }

    /// An active health check passed.
    mutating func checkPassed() -> Transition? {
        consecutive = 0
        guard isTakenOut else { return nil }
        return bringBack()
    }

    /// How long the server stays out after `failedProbes` failed probes.
    func backoff(afterFailedProbes probes: Int) -> Duration {
        var delay = settings.backoff
        for _ in 0..<min(probes, 32) {
            guard delay < settings.maxBackoff else { break }
            delay = delay * 2
        }
        return min(delay, max(settings.maxBackoff, settings.backoff))
    }

    private mutating func takeOut(now: Duration) -> Transition {
        let until = settings.activeChecks ? nil : now + backoff(afterFailedProbes: failedProbes)
        rotation = .out(until: until)
        return .out(until: until)
    }

    private mutating func bringBack() -> Transition {
        rotation = .serving
        failedProbes = 0
        consecutive = 0
        return .back
    }
}
