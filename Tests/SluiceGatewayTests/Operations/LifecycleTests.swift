import Foundation
import NIOCore
import NIOPosix
import ServiceLifecycle
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// The daemon's parts run as a `ServiceGroup`; a graceful shutdown stops them all and leaves nothing behind.
@Suite(.serialized) struct LifecycleTests {
    @Test func aDrainLeavesNoDescriptorAndNoTimerBehind() async throws {
        // Warm what the process keeps anyway (the singleton loops the backends use, dispatch's signal queue).
        let warm = try await startBackends(["w"])
        for (_, server) in warm { await server.shutdown(gracePeriod: .seconds(1)) }
        let baseline = ProcessStats.openDescriptors()
        let before = Self.descriptors()

        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let fixture = try await OperationsFixture.start(
            serverExtra: "access_log = \(NSTemporaryDirectory())sluice-lifecycle-\(getpid()).log", group: group)
        let ports = Set([fixture.port, fixture.adminPort] + fixture.backends.map { $0.server.port! })
        let (stream, continuation) = AsyncStream<Int32>.makeStream()
        let services = GatewayServices(
            gateway: fixture.gateway, signals: stream, notifier: SystemdNotifier(socketPath: nil), reload: { nil })
        let serviceGroup = services.group(logger: .init(label: "test.lifecycle"))
        let running = Task { try await serviceGroup.run() }

        // Traffic: keep-alive and new connections, a pooled upstream connection, health checks, a held-open client.
        for id in 0..<20 { #expect(try await fixture.get("/api/v1/users/\(id)", headers: [("x-key", "k\(id % 4)")]).status == 200) }
        var idle: TestSocket? = try TestSocket(port: fixture.port)
        try await idle!.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await idle!.readResponse().status == 200)
        #expect(ProcessStats.openDescriptors() > baseline)
        let servers = fixture.gateway.allServers
        #expect(servers.allSatisfy { $0.isChecking })

        continuation.yield(SIGTERM)  // what sluiced's signal stream delivers
        try await running.value
        #expect(servers.allSatisfy { !$0.isChecking }, "a health checker outlived the shutdown")
        #expect(try await idle!.waitForClose(), "a client connection outlived the drain")
        idle = nil  // the test's own end of it
        for (_, server) in fixture.backends { await server.shutdown(gracePeriod: .seconds(1)) }
        try await group.shutdownGracefully()
        // Every descriptor the gateway opened (listeners, admin, client and upstream connections, its log file, its
        // loops' epoll and event fds) is closed again.
        // Only what is the gateway's counts: sockets on its listener, admin or backend ports, its log file. (Other
        // suites' gateways may open and close health-check connections meanwhile; they are not this one's.)
        var ours: [String] = []
        let deadline = ContinuousClock.now + .seconds(5)
        repeat {
            let sockets = Self.socketPorts()
            ours = Self.descriptors().subtracting(before).filter { entry in
                if entry.contains("sluice-lifecycle") { return true }
                guard let open = entry.firstRange(of: "socket:["), let close = entry.lastIndex(of: "]") else { return false }
                let inode = String(entry[open.upperBound..<close])
                return sockets[inode].map { !ports.isDisjoint(with: $0) } ?? false
            }.sorted()
            if ours.isEmpty { break }
            try await Task.sleep(for: .milliseconds(20))
        } while ContinuousClock.now < deadline
        #expect(ours.isEmpty, "the gateway left descriptors open: \(ours)")
        #expect(ProcessStats.openDescriptors() > 0)
        unlink("\(NSTemporaryDirectory())sluice-lifecycle-\(getpid()).log")
    }

    /// The local and remote ports of every TCP socket of this process, by inode (`/proc/self/net/tcp{,6}`).
    static func socketPorts() -> [String: Set<Int>] {
        var ports: [String: Set<Int>] = [:]
        for table in ["/proc/self/net/tcp", "/proc/self/net/tcp6"] {
            let text = (try? String(contentsOfFile: table, encoding: .utf8)) ?? ""
            for line in text.split(separator: "\n").dropFirst() {
                let fields = line.split(separator: " ")
                guard fields.count > 9 else { continue }
                func port(_ field: Substring) -> Int? { field.split(separator: ":").last.flatMap { Int($0, radix: 16) } }
                ports[String(fields[9])] = Set([port(fields[1]), port(fields[2])].compactMap { $0 })
            }
        }
        return ports
    }

    /// `fd -> target` of every open descriptor.
    static func descriptors() -> Set<String> {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        return Set(names.compactMap { name in
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(name)")).map { "\(name)->\($0)" }
        })
    }
}
