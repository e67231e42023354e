import ArgumentParser
import Logging
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceDemoApp
import SluiceGateway
import SluiceServer
import CoreMetrics
import Prometheus
import ServiceLifecycle

#if canImport(Glibc)
import Glibc
#endif

@main
struct Sluiced: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluiced",
        abstract: "Sluice, an API gateway and reverse proxy.",
        discussion: """
            Signals: HUP reloads the configuration (an invalid one is logged and the running one stays), \
            USR1 reopens the access log file (after logrotate moved it), TERM and INT drain and stop. Under \
            systemd (Type=notify) it reports READY, RELOADING, STOPPING, WATCHDOG and STATUS itself.
            """,
        version: Sluice.version
    )

    @Option(name: .shortAndLong, help: "The configuration file.") var config = "/etc/sluice/sluice.ini"
    @Flag(name: .customShort("t"), help: "Check the configuration, print every error, and exit (0 if valid).")
    var test = false
    @Flag(help: "Start demo backends in two zones in-process and a gateway in front of them (no config file).")
    var demo = false
    @Option(help: "With --demo: the address the gateway listens on.") var listen = "127.0.0.1:8080"

    func run() async throws {
        // Ignore HUP (and TERM/INT) before anything else: the handlers come later, and until then a signal must not
        // kill the process.
        let signals = SignalStream.watch([SIGHUP, SIGUSR1, SIGTERM, SIGINT])
        // One event loop per CPU this process may run on (not per core of the machine), before any loop starts.
        CPUAffinity.sizeSharedEventLoops()

        if test {
            do {
                let loaded = try ConfigLoader.load(path: config)
                _ = try Gateway.loadCertificates(loaded)
                _ = try await AuthMaterials.load(loaded)
                for warning in loaded.warnings { printError("sluiced: [warn] \(warning)") }
                printError("sluiced: the configuration file \(config) syntax is ok")
                printError("sluiced: configuration file \(config) test is successful (\(loaded.routes.count) routes, \(loaded.upstreams.count) upstreams)")
            } catch {
                printError("sluiced: configuration file \(config) test failed:\n\(error)")
                throw ExitCode(1)
            }
            return
        }

        var demoServers: [HTTPServer] = []
        let gatewayConfig: GatewayConfig
        if demo {
            let (config, servers) = try await Self.startDemo(listen: listen)
            gatewayConfig = config
            demoServers = servers
        } else {
            do {
                gatewayConfig = try ConfigLoader.load(path: config)
            } catch {
                printError("sluiced: cannot start, the configuration has errors:\n\(error)")
                throw ExitCode(1)
            }
        }
        Self.bootstrapLogging(level: gatewayConfig.server.logLevel)
        let logger = Logger(label: "sluiced")

        let group: any EventLoopGroup =
            gatewayConfig.server.workers.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) }
            ?? MultiThreadedEventLoopGroup.singleton
        let gateway = try Gateway(config: gatewayConfig, group: group, logger: logger)
        do {
            try await gateway.start()
        } catch {
            logger.critical("cannot bind", metadata: ["error": "\(error)"])
            throw ExitCode(1)
        }
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: gateway.metricsRegistry))
        let notifier = SystemdNotifier()
        let reloader = Reloader(command: self, gateway: gateway, notifier: notifier, logger: logger)
        let reload: @Sendable () async -> String? = { await reloader.reload() }
        gateway.reloader.withLockedValue { $0 = reload }
        var services = GatewayServices(gateway: gateway, signals: signals, notifier: notifier, reload: reload)
        let backends = demoServers
        services.extra = [
            .init(service: StopOnShutdown {
                for server in backends { await server.shutdown(gracePeriod: .seconds(1)) }
            }, serviceName: "demo backends")
        ]
        let serviceGroup = services.group(logger: logger)
        let addresses = gateway.listeningAddresses.map { "\($0)" }.joined(separator: " ")
        notifier.ready(status: "serving on \(addresses); \(gateway.stats.summary)")
        logger.info("ready", metadata: ["listen": "\(addresses)", "version": "\(Sluice.version)"])
        if demo { Self.printDemoHelp(listen: listen, admin: gateway.adminAddress.map { "\($0.ipAddress ?? "127.0.0.1"):\($0.port ?? 0)" } ?? "-") }
        try await serviceGroup.run()
        logger.info("stopped")
    }

    /// Reloads one at a time (SIGHUP and `POST /reload` may come together).
    actor Reloader {
        let command: Sluiced
        let gateway: Gateway
        let notifier: SystemdNotifier
        let logger: Logger

        init(command: Sluiced, gateway: Gateway, notifier: SystemdNotifier, logger: Logger) {
            self.command = command
            self.gateway = gateway
            self.notifier = notifier
            self.logger = logger
        }

        func reload() async -> String? {
            await command.reload(gateway, notifier: notifier, logger: logger)
        }
    }

    /// Reloads the configuration file; returns the errors' text, or nil once the new configuration is in force.
    fileprivate func reload(_ gateway: Gateway, notifier: SystemdNotifier, logger: Logger) async -> String? {
        guard !demo else {
            logger.notice("reload ignored: the demo has no configuration file")
            return "the demo has no configuration file to reload"
        }
        notifier.reloading()
        var loaded: GatewayConfig?
        do {
            let next = try ConfigLoader.load(path: config)
            loaded = next
            try await gateway.apply(next)
            notifier.ready(status: "reloaded (generation \(gateway.generation)); \(gateway.stats.summary)")
            return nil
        } catch let errors as ConfigErrors {
            if loaded == nil { gateway.reloadFailed() }  // `apply` counts its own failures
            // One line per error, so that each is one journal entry.
            for error in errors.errors { logger.error("reload failed: \(error)") }
            logger.error("reload failed; the running configuration (generation \(gateway.generation)) stays in force")
            notifier.ready(status: "reload failed, running generation \(gateway.generation); see the log")
            return errors.errors.map { "\($0)" }.joined(separator: "\n")
        } catch {
            if loaded == nil { gateway.reloadFailed() }
            logger.error("reload failed: \(error); the running configuration stays in force")
            notifier.ready(status: "reload failed, running generation \(gateway.generation); see the log")
            return "\(error)"
        }
    }

    static func bootstrapLogging(level: SluiceConfig.LogLevel) {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = Logger.Level(rawValue: level.rawValue) ?? .info
            return handler
        }
    }

    /// Starts four demo backends (two per zone) on free ports, and describes a gateway in front of them: the same
    /// configuration as `etc/demo.ini`, with the backends' real ports and the admin API at `listen`'s port + 1000.
    static func startDemo(listen: String) async throws -> (GatewayConfig, [HTTPServer]) {
        let address = try ListenAddress(listen)
        var servers: [HTTPServer] = []
        var serverLines = ""
        for (name, zone) in [("a1", "az1"), ("a2", "az1"), ("b1", "az2"), ("b2", "az2")] {
            let backend = DemoBackend(configuration: .init(zone: zone, name: name, quiet: true))
            let server = try await backend.start()
            servers.append(server)
            serverLines += "server = 127.0.0.1:\(server.port!) zone=\(zone)\n"
        }
        let admin = ListenAddress(host: address.host, port: address.port == 0 ? 0 : address.port + 1000)
        // The demo's API key file (etc/demo-api-keys), written where the in-process demo can read it.
        let keys = "/tmp/sluice-demo-api-keys-\(getpid())"
        guard let file = fopen(keys, "w") else { throw ExitCode(1) }
        fputs("demo-key-0123456789abcdef demo\n", file)
        fclose(file)
        let config = try ConfigLoader.parse(
            demoConfig(listen: address, admin: admin, servers: serverLines, keys: keys), file: "<demo>")
        return (config, servers)
    }

    /// `etc/demo.ini`'s configuration.
    static func demoConfig(listen: ListenAddress, admin: ListenAddress, servers: String, keys: String) -> String {
        """
        [server]
        listen = \(listen)
        zone = az1
        admin = \(admin)
        admin_token = demo-admin-token-change-me
        access_log = off

        [protection]
        adaptive = on

        [upstream demo]
        \(servers)
        health_check = GET /healthz interval=500ms timeout=300ms rise=2 fall=2
        outlier = consecutive_5xx=5 consecutive_gateway_failure=5 ejection=10s max_ejected=50%
        circuit_breaker = failure_rate=50% window=20 min_calls=10 open=10s half_open=3

        [route users]
        match = /api/v1/users/:id
        upstream = demo
        priority = core
        retries = 2
        rate_limit = 20/s burst=10 key=client_ip

        [route search]
        match = /api/v1/search
        upstream = demo
        priority = normal

        [route feed]
        match = /api/v1/feed
        upstream = demo
        priority = optional
        fallback = status=200 type=application/json body={"items": [], "degraded": true}
        degrade = error_ratio=50% window=10s min_requests=10 recovery=5s
        fault_header = on

        ; API-gateway filters: /v2/people/:id is /api/v1/users/:id rewritten, with CORS and a response header;
        ; /private/* needs an API key (the file is beside this one) and is limited per caller; /gateway/health is
        ; answered by the gateway itself.
        [route people]
        match = /v2/people/:id
        upstream = demo
        rewrite = /api/v1/users/:id
        response_header = set X-Route $route
        cors = origins=http://localhost:3000 methods=GET credentials=on

        [route private]
        match = /private/*rest
        upstream = demo
        strip_prefix = /private
        auth = api_key
        api_keys = \(keys)
        rate_limit = 5/s key=identity

        [route health]
        match = /gateway/health
        return = 200 type=application/json body={"status":"ok","route":"$route"}

        [route everything]
        match = /*
        upstream = demo
        """
    }

    static func printDemoHelp(listen: String, admin: String) {
        print("""
            Sluice demo: gateway on http://\(listen) in front of backends a1, a2 (zone az1) and b1, b2 (zone az2).
            Try:
              curl http://\(listen)/ping
              curl http://\(listen)/api/v1/users/42          # says which instance and zone answered
              curl 'http://\(listen)/ping?delay=200ms'
              curl -i 'http://\(listen)/ping?status=503'
              curl -s http://\(listen)/bytes/100m | wc -c     # streamed through the gateway
            Traffic stays in zone az1 while it is healthy. Fail both az1 backends' health checks
            (each call reaches the next one) and watch it move to az2 within a second:
              curl -X POST 'http://\(listen)/admin/healthz?state=fail'; curl -X POST 'http://\(listen)/admin/healthz?state=fail'
              for i in 1 2 3 4; do curl -s http://\(listen)/api/v1/users/$i; echo; done
            Traffic control: /api/v1/users is core and limited to 20/s per client (burst 10); /api/v1/feed is
            optional, with a fallback:
              for i in $(seq 30); do curl -s -o /dev/null -w '%{http_code} ' http://\(listen)/api/v1/users/1; done; echo
              curl -i -H 'Sluice-Fault-Abort: 503' http://\(listen)/api/v1/feed     # an injected fault
              curl -X POST -H 'Authorization: Bearer demo-admin-token-change-me' \\
                'http://\(admin)/degrade?route=feed&state=on'                          # admin API: degrade by hand
              curl -i http://\(listen)/api/v1/feed                                    # the fallback, Sluice-Degraded: 1
              curl http://\(admin)/status; curl http://\(admin)/metrics
            API-gateway filters: a rewrite, an API key, the gateway's own answer:
              curl -i http://\(listen)/v2/people/7                   # rewritten to /api/v1/users/7, X-Route: people
              curl -i http://\(listen)/private/ping                  # 401: no API key
              curl -H 'X-API-Key: demo-key-0123456789abcdef' http://\(listen)/private/ping
              curl http://\(listen)/gateway/health
            Stop with Ctrl-C.
            """)
        fflush(nil)
    }
}

/// Writes a line to standard error.
func printError(_ text: String) {
    let line = Array((text + "\n").utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}
