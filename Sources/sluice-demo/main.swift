import ArgumentParser
import Dispatch
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SluiceDemoApp
import SluiceServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

@main
struct SluiceDemo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sluice-demo",
        abstract: "The Sluice demo backend: /ping, /api/v1/users/:id, /healthz, with fault knobs.",
        discussion: """
            Per request: ?delay=50ms adds latency, ?status=503 answers that status.
            Per instance: --fail-rate, --delay, --capacity with --base-latency (latency climbs with load), and
            POST /admin/healthz?state=fail|ok flips /healthz.
            """
    )

    @Option(help: "Address to bind.") var host = "127.0.0.1"
    @Option(help: "Port to bind; 0 picks a free one (printed on start).") var port = 0
    @Option(help: "Zone label this instance reports.") var zone = "az1"
    @Option(help: "Instance name it reports.") var name = "demo"
    @Option(help: "Share of requests (0...1) answered 503 on purpose.") var failRate = 0.0
    @Option(help: "Latency added to every answer, e.g. 20ms.", transform: Self.duration) var delay = TimeAmount.zero
    @Option(help: "Requests it serves at base latency at once; beyond, latency climbs with load (0: off).")
    var capacity = 0
    @Option(help: "Latency at or below capacity, e.g. 10ms (with --capacity).", transform: Self.duration)
    var baseLatency = TimeAmount.milliseconds(10)
    @Option(help: "Event loop threads (default: one per CPU this process may run on).") var threads: Int?
    @Flag(help: "No access log.") var quiet = false
    @Flag(help: "Only the benchmark routes, with no middleware (as Gin's gin.New(); for scripts/bench-backend).")
    var bare = false

    static func duration(_ text: String) throws -> TimeAmount {
        guard let value = TimeAmount(text: text) else { throw ValidationError("'\(text)' is not a duration (20ms, 1s)") }
        return value
    }

    func validate() throws {
        guard (0...1).contains(failRate) else { throw ValidationError("--fail-rate must be between 0 and 1") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard capacity >= 0 else { throw ValidationError("--capacity must be 0 or more") }
    }

    func run() async throws {
        CPUAffinity.sizeSharedEventLoops()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = quiet ? .warning : .info
            return handler
        }
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let group: any EventLoopGroup =
            threads.map { MultiThreadedEventLoopGroup(numberOfThreads: $0) } ?? MultiThreadedEventLoopGroup.singleton
        var configuration = DemoBackend.Configuration(
            host: host, port: port, zone: zone, name: name, failRate: failRate, delay: delay, quiet: quiet,
            capacity: capacity, baseLatency: baseLatency)
        configuration.bare = bare
        let backend = DemoBackend(configuration: configuration)
        let server = try await backend.start(group: group)
        print("sluice-demo \(name) (zone \(zone)) listening on http://\(host):\(server.port ?? port)")
        fflush(nil)
        await Self.waitForTermination()
        await server.shutdown(gracePeriod: .seconds(5))
    }

    /// Suspends until SIGTERM or SIGINT.
    static func waitForTermination() async {
        let pending = NIOLockedValueBox<CheckedContinuation<Void, Never>?>(nil)
        let sources = [SIGTERM, SIGINT].map { DispatchSource.makeSignalSource(signal: $0, queue: .global()) }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            pending.withLockedValue { $0 = continuation }
            for source in sources {
                source.setEventHandler {
                    pending.withLockedValue { continuation in
                        continuation?.resume()
                        continuation = nil
                    }
                }
                source.resume()
            }
        }
        for source in sources { source.cancel() }
    }
}
