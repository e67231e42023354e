import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceTraffic

/// Active HTTP health checks of one upstream server (nginx's and HAProxy's `rise`/`fall`).
///
/// Probes run on one event loop, spaced by the interval with ±10% jitter so that many servers are not probed in
/// lockstep, and never more than one at a time (`HealthCheckSchedule`). A probe is a fresh connection with `Connection: close`, so it
/// tests what a new request would meet and never disturbs pooled connections. The result moves the server's
/// `ServerHealth` only after `rise` good or `fall` bad results in a row.
final class HealthChecker: Sendable {
    private let target: UpstreamTarget
    private let config: HealthCheckConfig
    private let health: ServerHealth
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    private struct State {
        var streak = HealthCheckState()
        var schedule: HealthCheckSchedule
        var random = SplitMix64Generator(state: UInt64.random(in: 0...UInt64.max))
        var stopped = false
        var next: Scheduled<Void>?
    }

    /// The upstream's TLS, which checks use like requests.
    private let tls: UpstreamTLS?

    init(
        target: UpstreamTarget, config: HealthCheckConfig, health: ServerHealth, eventLoop: any EventLoop,
        logger: Logger, tls: UpstreamTLS? = nil
    ) {
        self.tls = tls
        self.target = target
        self.config = config
        self.health = health
        self.eventLoop = eventLoop
        self.logger = logger
        health.set(config.initiallyHealthy)
        self.state = NIOLockedValueBox(
            State(
                streak: HealthCheckState(rise: config.rise, fall: config.fall, initiallyHealthy: config.initiallyHealthy),
                schedule: HealthCheckSchedule(interval: config.interval)))
    }

    /// Starts probing, the first probe after a random part of one interval.
    func start() {
        let first = TimeAmount(config.interval).nanoseconds
        schedule(after: .nanoseconds(Int64.random(in: 0...max(first, 1))))
    }

    /// False once stopped.
    var isRunning: Bool { !state.withLockedValue { $0.stopped } }

    func stop() {
        state.withLockedValue { state in
            state.stopped = true
            state.next?.cancel()
        }
    }

    private func schedule(after delay: TimeAmount) {
        state.withLockedValue { state in
            guard !state.stopped else { return }
            state.next = eventLoop.scheduleTask(in: delay) { [self] in probe() }
        }
    }

    private func probe() {
        let now = Self.now()
        let start = state.withLockedValue { state -> Bool in
            !state.stopped && state.schedule.startProbe(now: now)
        }
        guard start else { return }
        let request = "\(config.method) \(config.path) HTTP/1.1\r\nHost: \(config.host ?? target.description)\r\n"
            + "User-Agent: sluice-health-check\r\nConnection: close\r\n\r\n"
        let timeout = TimeAmount(config.timeout)
        let outcome = ProbeOutcome(promise: eventLoop.makePromise(of: Int?.self))
        outcome.promise.futureResult.whenSuccess { [self] status in
            finish(healthy: status.map { config.accepts(status: $0) } ?? false, status: status)
        }
        if let service = config.grpcService {
            GRPCHealthProbe.run(
                target: target, service: service, tls: tls, timeout: timeout, eventLoop: eventLoop, outcome: outcome)
            return
        }
        let bootstrap = target.bootstrap(on: eventLoop, timeout: timeout, tls: tls) { channel in
            try channel.pipeline.syncOperations.addHandler(StatusLineReader(outcome: outcome))
        }
        target.connect(bootstrap).whenComplete { result in
            switch result {
            case .success(let channel):
                channel.writeAndFlush(ByteBuffer(string: request), promise: nil)
                let deadline = channel.eventLoop.scheduleTask(in: timeout) { outcome.complete(nil) }
                outcome.promise.futureResult.whenComplete { _ in
                    deadline.cancel()
                    channel.close(promise: nil)
                }
            case .failure:
                outcome.complete(nil)
            }
        }
    }

    private func finish(healthy: Bool, status: Int?) {
        let now = Self.now()
        let (transition, next) = state.withLockedValue { state -> (HealthCheckState.Transition?, Duration) in
            _ = state.schedule.finishProbe(now: now)
            return (state.streak.record(success: healthy), state.schedule.nextProbe(after: now, using: &state.random))
        }
        // A passing check is the probe that brings back a server the gateway's own connects took out.
        if healthy, health.checkPassed() == .back {
            logger.notice("upstream server reachable again", metadata: ["server": "\(target)", "by": "health check"])
        }
        if let transition {
            let nowHealthy = transition == .becameHealthy
            health.set(nowHealthy)
            let metadata: Logger.Metadata = ["server": "\(target)", "status": "\(status.map(String.init) ?? "no answer")"]
            if nowHealthy {
                logger.notice("upstream server is healthy again", metadata: metadata)
            } else {
                logger.warning("upstream server is unhealthy", metadata: metadata)
            }
        }
        schedule(after: TimeAmount(next - now))
    }

    /// Monotonic time, as `HealthCheckSchedule` counts it.
    private static func now() -> Duration { .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)) }
}

/// A probe's result: the status, or nil for no usable answer. Completed once, whichever path gets there first
/// (answer, close, error, deadline, failed connect).
final class ProbeOutcome: Sendable {
    let promise: EventLoopPromise<Int?>
    private let done = NIOLockedValueBox(false)

    init(promise: EventLoopPromise<Int?>) { self.promise = promise }

    func complete(_ status: Int?) {
        let first = done.withLockedValue { done in
            defer { done = true }
            return !done
        }
        if first { promise.succeed(status) }
    }
}

/// Reads the status code from the first line of a response, then is done.
private final class StatusLineReader: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let outcome: ProbeOutcome
    private var buffer = ByteBuffer()

    init(outcome: ProbeOutcome) { self.outcome = outcome }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        buffer.writeBuffer(&chunk)
        guard let line = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
            if buffer.readableBytes > 1024 { outcome.complete(nil) }
            return
        }
        let text = String(decoding: buffer.readableBytesView[..<line], as: UTF8.self)
        let parts = text.split(separator: " ")
        if parts.count >= 2, parts[0].hasPrefix("HTTP/"), let status = Int(parts[1]) {
            outcome.complete(status)
        } else {
            outcome.complete(nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        outcome.complete(nil)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        outcome.complete(nil)
        context.close(promise: nil)
    }
}
