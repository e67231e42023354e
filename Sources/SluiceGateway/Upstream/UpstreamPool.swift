import NIOCore
import NIOConcurrencyHelpers

/// One upstream server and its connection pools, one per event loop.
final class UpstreamServer: Sendable {
    let target: UpstreamTarget
    let zone: String?
    let weight: Int
    let settings: PoolSettings
    private let pools: LoopLocal<ConnectionPool>

    init(target: UpstreamTarget, zone: String?, weight: Int, settings: PoolSettings, group: any EventLoopGroup) {
        self.target = target
        self.zone = zone
        self.weight = weight
        self.settings = settings
        self.pools = LoopLocal(group: group) { loop in ConnectionPool(eventLoop: loop, target: target, settings: settings) }
    }

    /// The pool for `eventLoop`. Call on that loop.
    func pool(on eventLoop: any EventLoop) -> ConnectionPool { pools.value(on: eventLoop) }

    /// Retires every pool: idle connections close now, busy ones after their exchange.
    func close() {
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

    /// Round robin (this balancer). A retry takes the server after the last one tried, without moving the
    /// shared cursor: otherwise, with two servers, every first try would land on the same (failing) one. Call on
    /// `eventLoop`.
    func pick(on eventLoop: any EventLoop, excluding tried: [UpstreamServer]) -> UpstreamServer? {
        guard let last = tried.last, let lastIndex = servers.firstIndex(where: { $0 === last }) else {
            let cursor = cursors.value(on: eventLoop)
            let server = servers[cursor.next % primaryCount]
            cursor.next &+= 1
            return server
        }
        if lastIndex < primaryCount {
            for step in 1..<max(primaryCount, 1) {
                let server = servers[(lastIndex + step) % primaryCount]
                if !tried.contains(where: { $0 === server }) { return server }
            }
        }
        // Every primary failed this request: the backups, in order.
        return servers[primaryCount...].first { candidate in !tried.contains { $0 === candidate } }
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
