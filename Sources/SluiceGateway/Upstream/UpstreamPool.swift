import Logging
import NIOConcurrencyHelpers
import NIOCore
import SluiceConfig

/// One upstream server and its connection pools, one per event loop.
final class UpstreamServer: Sendable {
    let target: UpstreamTarget
    let zone: String?
    let weight: Int
    let settings: PoolSettings
    /// Healthy unless active checks say otherwise.
    let health = ServerHealth()
    private let checker: HealthChecker?
    private let pools: LoopLocal<ConnectionPool>

    init(
        target: UpstreamTarget, zone: String?, weight: Int, settings: PoolSettings, group: any EventLoopGroup,
        healthCheck: HealthCheckConfig? = nil, logger: Logger = Logger(label: "sluice.health")
    ) {
        self.target = target
        self.zone = zone
        self.weight = weight
        self.settings = settings
        self.pools = LoopLocal(group: group) { loop in ConnectionPool(eventLoop: loop, target: target, settings: settings) }
        let health = self.health
        self.checker = healthCheck.map {
            HealthChecker(target: target, config: $0, health: health, eventLoop: group.next(), logger: logger)
        }
        checker?.start()
    }

    /// The pool for `eventLoop`. Call on that loop.
    func pool(on eventLoop: any EventLoop) -> ConnectionPool { pools.value(on: eventLoop) }

    /// Retires every pool: idle connections close now, busy ones after their exchange.
    func close() {
        checker?.stop()
        let pools = self.pools
        // Each pool is closed on its own loop (it may be called from any thread).
        pools.forEach { loop, _ in loop.execute { pools.value(on: loop).close() } }
    }
}

/// An upstream: its servers and the choice between them.
final class UpstreamPool: Sendable {
    let name: String
    /// The primaries, then the `backup` servers (tried only once every primary has been tried for a request).
    let servers: [UpstreamServer]
    let primaryCount: Int
    private let cursors: LoopLocal<Cursor>

    private final class Cursor {
        var next = 0
    }

    init(name: String, servers: [UpstreamServer], backups: [UpstreamServer] = [], group: any EventLoopGroup) {
        precondition(!servers.isEmpty || !backups.isEmpty, "an upstream needs servers")
        self.name = name
        self.servers = servers + backups
        self.primaryCount = servers.isEmpty ? backups.count : servers.count
        self.cursors = LoopLocal(group: group) { _ in Cursor() }
    }

    /// Round robin over the healthy primaries; the healthy backups when no primary is healthy; every server when
    /// none is healthy at all (better to try than to refuse). A retry takes the next healthy server after the last
    /// one tried, without moving the shared cursor: otherwise, with two servers, every first try would land on the
    /// same (failing) one. Call on `eventLoop`.
    func pick(on eventLoop: any EventLoop, excluding tried: [UpstreamServer]) -> UpstreamServer? {
        let primaries = 0..<primaryCount
        let backups = primaryCount..<servers.count
        func untried(_ server: UpstreamServer) -> Bool { !tried.contains { $0 === server } }
        func scan(_ range: Range<Int>, from start: Int, healthyOnly: Bool) -> UpstreamServer? {
            guard !range.isEmpty else { return nil }
            for step in 0..<range.count {
                let server = servers[range.lowerBound + (start + step) % range.count]
                if untried(server) && (!healthyOnly || server.health.isHealthy) { return server }
            }
            return nil
        }
        let start: Int
        if let last = tried.last, let index = servers.firstIndex(where: { $0 === last }), index < primaryCount {
            start = index + 1
        } else if tried.isEmpty {
            let cursor = cursors.value(on: eventLoop)
            start = cursor.next % max(primaryCount, 1)
            cursor.next &+= 1
        } else {
            start = 0
        }
        return scan(primaries, from: start, healthyOnly: true)
            ?? scan(backups, from: 0, healthyOnly: true)
            ?? scan(primaries, from: start, healthyOnly: false)
            ?? scan(backups, from: 0, healthyOnly: false)
    }
}

/// One value per event loop of a group, made up front so lookups need no lock. Each value must only be used on
/// its own loop; that is what makes sharing the container safe.
struct LoopLocal<Value>: @unchecked Sendable {
    private let values: [ObjectIdentifier: Value]
    private let loops: [any EventLoop]

    init(group: any EventLoopGroup, make: (any EventLoop) -> Value) {
        var values: [ObjectIdentifier: Value] = [:]
        var loops: [any EventLoop] = []
        for loop in group.makeIterator() {
            values[ObjectIdentifier(loop)] = make(loop)
            loops.append(loop)
        }
        self.values = values
        self.loops = loops
    }

    func value(on eventLoop: any EventLoop) -> Value {
        guard let value = values[ObjectIdentifier(eventLoop)] else {
            preconditionFailure("event loop \(eventLoop) is not in this gateway's group")
        }
        return value
    }

    func forEach(_ body: (any EventLoop, Value) -> Void) {
        for loop in loops { body(loop, values[ObjectIdentifier(loop)]!) }
    }
}
