public import Logging
public import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's parts as swift-service-lifecycle services, in one `ServiceGroup`:
///
///     watchdog · [extra services] · upstreams (health checkers, pools, Redis, monitor, access log) ·
///     listeners (traffic and admin) · signals
///
/// Signals arrive through `SignalStream` (set up first thing, so none is lost before the group runs): HUP
/// reloads, USR1 reopens the logs, TERM and INT end the signal service, which shuts the group down gracefully.
/// The group stops its services in reverse order, each after the one before it finished: signals stop being
/// taken, listeners drain (`drain_timeout`), then what was behind them closes, then the watchdog. Nothing of the
/// gateway outlives `run()`.
public struct GatewayServices: Sendable {
    public let gateway: Gateway
    public let signals: AsyncStream<Int32>
    public let notifier: SystemdNotifier
    /// Reloads the configuration; returns an error text, or nil on success.
    public let reload: @Sendable () async -> String?
    /// Services that must outlive the listeners (in-process demo backends), stopped after the upstreams.
    public var extra: [ServiceGroupConfiguration.ServiceConfiguration] = []

    public init(
        gateway: Gateway, signals: AsyncStream<Int32>, notifier: SystemdNotifier,
        reload: @escaping @Sendable () async -> String?
    ) {
        self.gateway = gateway
        self.signals = signals
        self.notifier = notifier
        self.reload = reload
    }

    /// The group, ready to `run()`.
    public func group(logger: Logger) -> ServiceGroup {
        let gateway = self.gateway
        let notifier = self.notifier
        let services: [ServiceGroupConfiguration.ServiceConfiguration] =
            [.init(service: WatchdogService(watchdog: Watchdog(notifier: notifier, group: gateway.group)), serviceName: "watchdog")]
            + extra
            + [
                .init(service: StopOnShutdown { await gateway.closeUpstreams() }, serviceName: "upstreams"),
                .init(
                    service: StopOnShutdown {
                        notifier.stopping()
                        await gateway.shutdown()
                    }, serviceName: "listeners"),
                .init(
                    service: SignalService(signals: signals, gateway: gateway, reload: reload, logger: logger),
                    successTerminationBehavior: .gracefullyShutdownGroup, serviceName: "signals"),
            ]
        var configuration = ServiceGroupConfiguration(services: services, logger: logger)
        configuration.logging = .init()
        return ServiceGroup(configuration: configuration)
    }
}

/// Does nothing until the group shuts down gracefully (or is cancelled), then runs `stop`.
public struct StopOnShutdown: Service {
    let stop: @Sendable () async -> Void

    public init(_ stop: @escaping @Sendable () async -> Void) { self.stop = stop }

    public func run() async throws {
        try? await gracefulShutdown()
        await stop()
    }
}

/// systemd's watchdog pings, until the group shuts down.
struct WatchdogService: Service {
    let watchdog: Watchdog

    func run() async throws {
        await cancelWhenGracefulShutdown { await watchdog.run() }
        try? await gracefulShutdown()  // without WATCHDOG_USEC `run` returns at once: a service must not end early
    }
}

/// HUP: reload; USR1: reopen logs; TERM or INT: return, which shuts the group down.
struct SignalService: Service {
    let signals: AsyncStream<Int32>
    let gateway: Gateway
    let reload: @Sendable () async -> String?
    let logger: Logger

    func run() async throws {
        for await signal in signals.cancelOnGracefulShutdown() {
            switch signal {
            case SIGHUP: _ = await reload()
            case SIGUSR1: await gateway.reopenLogs()
            default:
                logger.info("stopping: draining connections", metadata: ["signal": "\(signal == SIGINT ? "INT" : "TERM")"])
                return
            }
        }
    }
}
