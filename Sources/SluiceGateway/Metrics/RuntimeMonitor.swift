import Atomics
import NIOConcurrencyHelpers
import NIOCore

/// What the gateway watches about itself while it runs: each event loop's lag (a task scheduled every second, and
/// how late it ran), and samples of every server's answers for its recent error rate. Its timers are cancelled by
/// `stop()`; nothing of it outlives the gateway.
final class RuntimeMonitor: Sendable {
    static let lagInterval = TimeAmount.seconds(1)
    static let sampleInterval = TimeAmount.seconds(5)

    private let loops: [any EventLoop]
    private let probes: [LagProbe]
    private let tasks = NIOLockedValueBox<[RepeatedTask]>([])
    /// Error-rate samples by server.
    private let rates = NIOLockedValueBox<[ObjectIdentifier: RecentErrorRate]>([:])
    /// When the gateway started (monotonic).
    let started = NIODeadline.now()

    init(group: any EventLoopGroup) {
        loops = Array(group.makeIterator())
        probes = loops.map { LagProbe(loop: $0) }
    }

    /// Starts the probes; `servers` lists the servers to sample (read anew each time).
    func start(servers: @escaping @Sendable () -> [UpstreamServer]) {
        var started: [RepeatedTask] = []
        for probe in probes { probe.schedule() }
        if let first = loops.first {
            started.append(first.scheduleRepeatedTask(initialDelay: .zero, delay: Self.sampleInterval) { [self] _ in
                sample(servers())
            })
        }
        tasks.withLockedValue { $0 = started }
    }

    /// Cancels every timer.
    func stop() {
        let tasks = self.tasks.withLockedValue { tasks in
            defer { tasks = [] }
            return tasks
        }
        for task in tasks { task.cancel() }
        for probe in probes { probe.stop() }
    }

    /// Seconds each loop's last probe waited behind other work.
    var lagSeconds: [Double] { probes.map { Double($0.lag.load(ordering: .relaxed)) / 1e9 } }

    /// The gateway's age.
    var uptimeSeconds: Double { Double((NIODeadline.now() - started).nanoseconds) / 1e9 }

    func sample(_ servers: [UpstreamServer]) {
        let now = Duration.nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds))
        rates.withLockedValue { rates in
            var kept: [ObjectIdentifier: RecentErrorRate] = [:]
            for server in servers {
                let id = ObjectIdentifier(server)
                var rate = rates[id] ?? RecentErrorRate()
                rate.add(.init(
                    at: now, answered: server.load.answered.load(ordering: .relaxed),
                    failed: server.load.failed.load(ordering: .relaxed)))
                kept[id] = rate
            }
            rates = kept
        }
    }

    /// A server's share of failed tries over the last 30 s or so; nil without tries.
    func errorRate(of server: UpstreamServer) -> Double? {
        let rate = rates.withLockedValue { $0[ObjectIdentifier(server)] }
        return rate?.rate(
            answered: server.load.answered.load(ordering: .relaxed), failed: server.load.failed.load(ordering: .relaxed))
    }
}

/// One loop's lag: a task scheduled for a deadline every second, and how late it ran.
private final class LagProbe: Sendable {
    let loop: any EventLoop
    /// The last probe's delay, in nanoseconds.
    let lag = ManagedAtomic<Int64>(0)
    private let next = NIOLockedValueBox<(stopped: Bool, task: Scheduled<Void>?)>((false, nil))

    init(loop: any EventLoop) { self.loop = loop }

    func schedule() {
        let deadline = NIODeadline.now() + RuntimeMonitor.lagInterval
        next.withLockedValue { next in
            guard !next.stopped else { return }
            next.task = loop.scheduleTask(deadline: deadline) { [self] in
                lag.store(max(0, (NIODeadline.now() - deadline).nanoseconds), ordering: .relaxed)
                schedule()
            }
        }
    }

    func stop() {
        next.withLockedValue { next in
            next.stopped = true
            next.task?.cancel()
            next.task = nil
        }
    }
}
