import Logging
import NIOConcurrencyHelpers
import NIOCore
import SluiceConfig
import SluiceDNS

/// DNS discovery for `server = NAME:PORT resolve` (and `_svc._tcp.NAME srv resolve`): every name is looked up
/// again every `resolve_interval`, sooner when its records' TTL is shorter (never more often than once a second),
/// through `DNSClient` (UDP to the `resolver`s, nothing blocks an event loop). Each address becomes a server of its
/// own; when an answer changes, `onChange` recompiles the running configuration with the new addresses, and the
/// compiler keeps the servers (pools, health, outlier state) of addresses that stayed and retires the others
/// after their requests finish. A failed or empty lookup keeps the last answer.
final class UpstreamDiscovery: Sendable {
    struct Name: Hashable, Sendable {
        let host: String
        let srv: Bool
    }

    /// One address a name gave.
    struct Endpoint: Hashable, Sendable {
        let host: String
        /// From SRV; nil takes the configured port.
        let port: Int?
        let weight: Int?
        /// SRV priority above the lowest: a backup.
        let backup: Bool
    }

    private struct State {
        var answers: [Name: [Endpoint]] = [:]
        var intervals: [Name: Duration] = [:]
        var timers: [Name: Scheduled<Void>] = [:]
        var stopped = false
        var lookups = 0
        var failures = 0
    }

    private let client: DNSClient
    private let eventLoop: any EventLoop
    private let logger: Logger
    private let state = NIOLockedValueBox(State())
    /// Called when an answer changed (set once the gateway exists).
    let onChange = NIOLockedValueBox<(@Sendable () -> Void)?>(nil)

    init(client: DNSClient, eventLoop: any EventLoop, logger: Logger) {
        self.client = client
        self.eventLoop = eventLoop
        self.logger = logger
    }

    /// The nameservers: `resolver` lines, else /etc/resolv.conf's, else 127.0.0.1:53.
    static func nameservers(_ config: ServerConfig) -> [SocketAddress] {
        var addresses = config.resolvers.compactMap { try? SocketAddress(ipAddress: $0.host, port: $0.port) }
        if addresses.isEmpty, let text = try? FileSystem.readText(ResolvConf.defaultPath) {
            addresses = ResolvConf.nameservers(text).compactMap { try? SocketAddress(ipAddress: $0, port: 53) }
        }
        if addresses.isEmpty, let local = try? SocketAddress(ipAddress: "127.0.0.1", port: 53) { addresses = [local] }
        return addresses
    }

    /// Lookups made and failed so far (for `/debug/state` and tests).
    var counts: (lookups: Int, failures: Int) { state.withLockedValue { ($0.lookups, $0.failures) } }

    /// The names `config` resolves, with their intervals.
    static func names(_ config: GatewayConfig) -> [Name: Duration] {
        var names: [Name: Duration] = [:]
        for upstream in config.upstreams {
            for server in upstream.servers where server.resolve {
                let name = Name(host: server.host, srv: server.srv)
                names[name] = min(names[name] ?? upstream.resolveInterval, upstream.resolveInterval)
            }
        }
        return names
    }

    /// `config` with every `resolve` server replaced by one server per address it has now (none while a name has
    /// no answer yet).
    func expand(_ config: GatewayConfig) -> GatewayConfig {
        guard config.upstreams.contains(where: \.resolves) else { return config }
        let answers = state.withLockedValue { $0.answers }
        var expanded = config
        for index in expanded.upstreams.indices {
            let upstream = expanded.upstreams[index]
            guard upstream.resolves else { continue }
            var servers: [UpstreamServerConfig] = []
            var seen = Set<String>()
            for server in upstream.servers {
                guard server.resolve else {
                    if seen.insert(server.address).inserted { servers.append(server) }
                    continue
                }
                for endpoint in answers[Name(host: server.host, srv: server.srv)] ?? [] {
                    var made = server
                    made.host = endpoint.host
                    made.port = endpoint.port ?? server.port
                    if let weight = endpoint.weight { made.weight = weight }
                    made.backup = server.backup || endpoint.backup
                    made.resolve = false
                    made.srv = false
                    if seen.insert(made.address).inserted { servers.append(made) }
                }
            }
            expanded.upstreams[index].servers = servers
        }
        return expanded
    }

    /// Looks up every name of `config` that has no answer yet, and waits for the answers (at start, and for names
    /// a reload adds). Then keeps every name of `config` refreshed, and stops refreshing names it dropped.
    func watch(_ config: GatewayConfig) async {
        let names = Self.names(config)
        let missing = state.withLockedValue { state -> [Name] in
            for (name, timer) in state.timers where names[name] == nil {
                timer.cancel()
                state.timers[name] = nil
                state.answers[name] = nil
            }
            state.intervals = names
            return names.keys.filter { state.answers[$0] == nil }
        }
        await withTaskGroup(of: Void.self) { group in
            for name in missing {
                group.addTask { _ = await self.lookUp(name) }
            }
        }
        for name in names.keys { schedule(name, after: nil) }
    }

    /// Sets the answer of `name` (tests).
    func record(_ endpoints: [Endpoint], for name: Name) {
        state.withLockedValue { $0.answers[name] = endpoints }
    }

    /// Stops every refresh.
    func stop() {
        state.withLockedValue { state in
            state.stopped = true
            for timer in state.timers.values { timer.cancel() }
            state.timers = [:]
        }
    }

    /// Schedules the next lookup of `name` (unless one is scheduled): after the interval, or the TTL if sooner.
    private func schedule(_ name: Name, after ttl: UInt32?) {
        state.withLockedValue { state in
            guard !state.stopped, state.timers[name] == nil, let interval = state.intervals[name] else { return }
            var delay = interval
            if let ttl { delay = min(delay, .seconds(Int64(ttl))) }
            if state.answers[name] == nil { delay = .zero }  // never answered yet: try again soon
            delay = max(delay, .seconds(1))
            state.timers[name] = eventLoop.scheduleTask(in: TimeAmount(delay)) { [self] in
                self.state.withLockedValue { _ = $0.timers.removeValue(forKey: name) }
                Task {
                    let (changed, ttl) = await lookUp(name)
                    if changed { onChange.withLockedValue { $0 }?() }
                    schedule(name, after: ttl)
                }
            }
        }
    }

    /// One lookup; stores a non-empty answer. Returns whether the answer changed, and its TTL.
    private func lookUp(_ name: Name) async -> (changed: Bool, ttl: UInt32?) {
        let future = name.srv ? client.resolveService(name.host) : client.resolveHost(name.host)
        state.withLockedValue { $0.lookups += 1 }
        do {
            let answer = try await future.get()
            var endpoints: [Endpoint]
            if name.srv {
                let lowest = answer.services.map(\.priority).min() ?? 0
                endpoints = answer.services.flatMap { service in
                    service.addresses.map {
                        Endpoint(
                            host: $0, port: Int(service.port), weight: max(1, min(1000, Int(service.weight))),
                            backup: service.priority > lowest)
                    }
                }
            } else {
                endpoints = answer.addresses.map { Endpoint(host: $0, port: nil, weight: nil, backup: false) }
            }
            endpoints.sort { ($0.host, $0.port ?? 0) < ($1.host, $1.port ?? 0) }
            guard !endpoints.isEmpty else { throw DNSError.noAnswer }
            let changed = state.withLockedValue { state -> Bool in
                let old = state.answers[name]
                state.answers[name] = endpoints
                return old != endpoints
            }
            if changed {
                logger.notice(
                    "DNS answer changed", metadata: ["name": "\(name.host)", "addresses": "\(endpoints.map(\.host))"])
            }
            return (changed, answer.ttl)
        } catch {
            state.withLockedValue { $0.failures += 1 }
            logger.warning(
                "DNS lookup failed; keeping the last answer", metadata: ["name": "\(name.host)", "error": "\(error)"])
            return (false, nil)
        }
    }
}
