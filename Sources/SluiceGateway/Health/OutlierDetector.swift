/// Passive health for one upstream: ejects servers whose answers say they are failing (Envoy's outlier detection).
///
/// Rules, and where they follow Envoy (`source/common/upstream/outlier_detection_impl.cc`):
/// - A 5xx counts toward `consecutive5xx`; a 502/503/504 or a `.gatewayFailure` (failed or timed-out connect,
///   reset: Envoy maps these local-origin errors to 503/504 when it does not split them) also counts toward
///   `consecutiveGatewayFailure`; a 500 or other non-gateway 5xx resets the gateway counter; anything below 500
///   resets both. The ejection happens on the result that makes a counter *reach* its threshold; that counter is
///   then reset whether or not the ejection was allowed, so a refused server needs a fresh run to be tried again.
/// - The n-th ejection lasts `min(baseEjection × multiplier, maxEjection)`. The multiplier goes up by one per
///   ejection, stopping at the first value that reaches the cap (`⌈maxEjection / baseEjection⌉`; Envoy stops one
///   step later) so that it decays back in reasonable time, and goes down by one at every interval the server
///   ends without being ejected (Envoy's decay).
/// - An ejection ends exactly at its expiry: `isEjected` is true for `now < until`. (Envoy only un-ejects on its
///   interval timer, so up to one `interval` late.) The counters are reset on un-ejection.
/// - At most `maxEjectedPercent` of the pool is ejected at once: an ejection is allowed when
///   `(ejected + 1) × 100 ≤ maxEjectedPercent × servers`. As Envoy documents ("will eject at least one host
///   regardless of the value"), one ejection is always allowed when none is in force — but only in a pool of at
///   least two servers: ejecting a lone server only turns its errors into the gateway's own 503s.
/// - Success rate (optional), at the close of each interval, over the servers not ejected that answered at
///   least `minimumRequests` in it, when at least `minimumHosts` qualify: success rate = non-5xx ÷ requests,
///   mean and *population* standard deviation as Envoy computes them; servers strictly below
///   `mean − stdevFactor × stdev` are ejected, worst first, within the ejected-share cap.
/// - Answers that arrive for a server while it is ejected (requests already in flight) are ignored.
///
/// The gateway calls `record` for every upstream answer and `tick` about once per `interval` (more often is
/// harmless: an interval closes only once `interval` has passed since the last close).
struct OutlierDetector: Sendable {
    /// What an upstream exchange ended with.
    enum Outcome: Sendable, Equatable {
        /// An answer below 500.
        case success
        /// An answer with this status; only `500...599` counts as an error (anything else is a success).
        case serverError(status: Int)
        /// No answer: connect failed or timed out, the connection was reset, or the response timed out.
        case gatewayFailure
    }

    /// Why a server was ejected.
    enum Reason: Sendable, Equatable {
        case consecutive5xx
        case consecutiveGatewayFailure
        case successRate
    }

    /// An ejection that just took effect.
    struct Ejection: Sendable, Equatable {
        let server: Int
        let reason: Reason
        /// The server is back in rotation from this instant on.
        let until: Duration
    }

    private struct ServerState: Sendable {
        var consecutive5xx = 0
        var consecutiveGatewayFailure = 0
        var multiplier = 0
        var ejectedUntil: Duration?
        var intervalRequests = 0
        var intervalSuccesses = 0
    }

    let configuration: OutlierDetectorConfiguration
    private var servers: [ServerState]
    private var intervalStart: Duration
    private let maxMultiplier: Int

    var serverCount: Int { servers.count }

    init(serverCount: Int, configuration: OutlierDetectorConfiguration = .init(), now: Duration) {
        precondition(serverCount >= 0)
        precondition(configuration.baseEjection > .zero && configuration.interval > .zero)
        self.configuration = configuration
        self.servers = Array(repeating: ServerState(), count: serverCount)
        self.intervalStart = now
        let ratio = configuration.maxEjection / configuration.baseEjection
        self.maxMultiplier = max(1, Int(ratio.rounded(.up)))
    }

    func isEjected(_ server: Int, now: Duration) -> Bool {
        guard let until = servers[server].ejectedUntil else { return false }
        return now < until
    }

    func ejectedCount(now: Duration) -> Int {
        servers.indices.count(where: { isEjected($0, now: now) })
    }

    /// The current ejection multiplier of `server` (how many `baseEjection`s its next ejection lasts, minus one).
    func multiplier(of server: Int) -> Int { servers[server].multiplier }

    /// Records one exchange's outcome; returns the ejection it caused, if any.
    @discardableResult
    mutating func record(server: Int, outcome: Outcome, now: Duration) -> Ejection? {
        expire(server, now: now)
        guard servers[server].ejectedUntil == nil else { return nil }
        servers[server].intervalRequests += 1
        let status: Int
        switch outcome {
        case .success: status = 200
        case .serverError(let code): status = code
        case .gatewayFailure: status = 503
        }
        guard (500...599).contains(status) else {
            servers[server].intervalSuccesses += 1
            servers[server].consecutive5xx = 0
            servers[server].consecutiveGatewayFailure = 0
            return nil
        }
        // Gateway counter first, as Envoy does: five 503s eject for a gateway failure, not for 5xx.
        if (502...504).contains(status) {
            servers[server].consecutiveGatewayFailure += 1
            if servers[server].consecutiveGatewayFailure == configuration.consecutiveGatewayFailure {
                servers[server].consecutiveGatewayFailure = 0
                if let ejection = eject(server, reason: .consecutiveGatewayFailure, now: now) { return ejection }
            }
        } else {
            servers[server].consecutiveGatewayFailure = 0
        }
        servers[server].consecutive5xx += 1
        if servers[server].consecutive5xx == configuration.consecutive5xx {
            servers[server].consecutive5xx = 0
            return eject(server, reason: .consecutive5xx, now: now)
        }
        return nil
    }

    /// Un-ejects expired servers and, once `interval` has passed since the last close, closes the interval:
    /// decays the multipliers of servers not ejected, then runs success-rate ejection. Returns the ejections made.
    @discardableResult
    mutating func tick(now: Duration) -> [Ejection] {
        // Envoy decays only servers that were not ejected when the timer fired, so look before expiring.
        let wasEjected = servers.indices.map { servers[$0].ejectedUntil != nil }
        for server in servers.indices { expire(server, now: now) }
        guard now - intervalStart >= configuration.interval else { return [] }
        intervalStart = now
        for server in servers.indices where !wasEjected[server] && servers[server].multiplier > 0 {
            servers[server].multiplier -= 1
        }
        let ejections = successRateEjections(now: now)
        for server in servers.indices {
            servers[server].intervalRequests = 0
            servers[server].intervalSuccesses = 0
        }
        return ejections
    }

    private mutating func successRateEjections(now: Duration) -> [Ejection] {
        guard let rule = configuration.successRate else { return [] }
        let judged: [(server: Int, rate: Double)] = servers.indices.compactMap { server in
            let state = servers[server]
            guard state.ejectedUntil == nil, state.intervalRequests >= rule.minimumRequests,
                state.intervalRequests > 0
            else { return nil }
            return (server, Double(state.intervalSuccesses) / Double(state.intervalRequests))
        }
        guard judged.count >= max(rule.minimumHosts, 1) else { return [] }
        let count = Double(judged.count)
        let mean = judged.reduce(0) { $0 + $1.rate } / count
        let variance = judged.reduce(0) { $0 + ($1.rate - mean) * ($1.rate - mean) } / count
        let threshold = mean - rule.stdevFactor * variance.squareRoot()
        var ejections: [Ejection] = []
        for (server, _) in judged.filter({ $0.rate < threshold }).sorted(by: { $0.rate < $1.rate }) {
            if let ejection = eject(server, reason: .successRate, now: now) { ejections.append(ejection) }
        }
        return ejections
    }

    private mutating func eject(_ server: Int, reason: Reason, now: Duration) -> Ejection? {
        let ejected = ejectedCount(now: now)
        let total = servers.count
        let withinShare = (ejected + 1) * 100 <= configuration.maxEjectedPercent * total
        guard withinShare || (ejected == 0 && total >= 2) else { return nil }
        servers[server].multiplier = min(servers[server].multiplier + 1, maxMultiplier)
        let length = min(configuration.baseEjection * servers[server].multiplier, configuration.maxEjection)
        let until = now + length
        servers[server].ejectedUntil = until
        return Ejection(server: server, reason: reason, until: until)
    }

    /// Ends `server`'s ejection if it has expired, resetting its counters (Envoy resets them on un-ejection so
    /// a counter left near its threshold does not re-eject on the first new error).
    private mutating func expire(_ server: Int, now: Duration) {
        guard let until = servers[server].ejectedUntil, now >= until else { return }
        servers[server].ejectedUntil = nil
        servers[server].consecutive5xx = 0
        servers[server].consecutiveGatewayFailure = 0
    }
}
