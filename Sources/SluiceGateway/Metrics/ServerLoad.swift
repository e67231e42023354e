import Atomics

/// One upstream server's counts over all event loops: its pools' connections (kept by each `ConnectionPool` as it
/// changes) and how its tries ended. Relaxed atomics: read for metrics and `/status`, never for decisions.
final class ServerLoad: Sendable {
    /// Connections open (busy, connecting, idle), idle, and requests waiting for one.
    let open = ManagedAtomic(0)
    let idle = ManagedAtomic(0)
    let pending = ManagedAtomic(0)
    /// Tries that got an answer below 500, and tries that got a 5xx or no answer.
    let answered = ManagedAtomic(0)
    let failed = ManagedAtomic(0)
    /// Refused or timed-out connects, and fresh connections closed before any answer.
    let localFailures = ManagedAtomic(0)

    init() {}

    /// Requests on the server now: a busy connection (or HTTP/2 stream) carries one.
    var inFlight: Int { max(0, open.load(ordering: .relaxed) - idle.load(ordering: .relaxed)) }

    /// Counts a try's end: `status` nil when there was no answer.
    func record(status: Int?) {
        if let status, status < 500 {
            answered.wrappingIncrement(ordering: .relaxed)
        } else {
            failed.wrappingIncrement(ordering: .relaxed)
        }
    }
}

/// The error rate of the last `window`, from samples of cumulative counts taken now and then (the gateway takes
/// one every few seconds). A value with the time passed in: no clock, no NIO.
struct RecentErrorRate: Sendable {
    struct Sample: Sendable, Equatable {
        var at: Duration
        var answered: Int
        var failed: Int
    }

    let window: Duration
    private(set) var samples: [Sample] = []

    init(window: Duration = .seconds(30)) { self.window = window }

    /// Adds a sample and forgets those older than the window (keeping one at or before its start).
    mutating func add(_ sample: Sample) {
        samples.append(sample)
        while samples.count > 2, samples[1].at <= sample.at - window { samples.removeFirst() }
    }

    /// Failed tries over all tries since the oldest sample kept, given the counts now; nil without tries.
    func rate(answered: Int, failed: Int) -> Double? {
        guard let oldest = samples.first else { return nil }
        let tries = (answered - oldest.answered) + (failed - oldest.failed)
        guard tries > 0 else { return nil }
        return Double(failed - oldest.failed) / Double(tries)
    }
}
