import ArgumentParser
import Logging
import ServiceLifecycle
import SluiceServer
import SluiceTodo
import SluiceWeb

/// `sluice-todo --db todos.sqlite --port 8081 --zone az1`: the todo API on SQLite, stopped gracefully by SIGTERM
/// (readiness fails first, for the gateway's health checks).
@main
struct SluiceTodoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sluice-todo", abstract: "A todo API on SluiceWeb and SQLite.")

    @Option(help: "The SQLite file (created if missing).") var db = "todos.sqlite"
    @Option(help: "The port to listen on.") var port = 8081
    @Option(help: "The address to listen on.") var host = "127.0.0.1"
    @Option(help: "The zone reported on /healthz.") var zone: String?
    @Option(help: "The instance name reported on /healthz.") var name = "sluice-todo"
    @Option(help: "Seconds readiness fails before the server stops, on SIGTERM.") var drainDelay = 2

    func run() async throws {
        CPUAffinity.sizeSharedEventLoops()
        let logger = Logger(label: "sluice.todo")
        let store = try TodoStore(path: db)
        let engine = try TodoApp.makeEngine(store: store, instance: InstanceInfo(name: name, zone: zone))
        let service = EngineService(
            engine: engine, configuration: ServerConfiguration(host: host, port: port),
            drainDelay: .seconds(Int64(drainDelay))
        ) { address in
            logger.info("listening", metadata: ["address": "\(address.map { "\($0)" } ?? "?")", "db": "\(db)"])
        }
        let group = ServiceGroup(services: [service], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}
