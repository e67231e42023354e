import Atomics
import NIOCore
import SluiceConfig
import SluiceServer
import SluiceTraffic

/// `GET /status` and `GET /debug/state`: the gateway's state as JSON, for the status page, scripts and leak hunts.
extension Gateway {
    /// The state of one server in one word: `drained`, `down` (active checks), `unreachable` (failed connects),
    /// `ejected` (outlier detection) or `up`.
    static func state(of server: GatewaySnapshot.Server) -> String {
        if server.drained { return "drained" }
        if !server.healthy { return "down" }
        if server.unreachable { return "unreachable" }
        if server.ejected { return "ejected" }
        return "up"
    }

    /// The daemon's own health: memory, descriptors, loops, requests in flight.
    func runtimeJSON() -> String {
        let process = ProcessStats.read()
        let lags = monitor.lagSeconds
        return JSONWriter.object([
            ("uptime_seconds", String(format3(monitor.uptimeSeconds))),
            ("rss_bytes", String(process.residentBytes)),
            ("open_fds", String(process.openDescriptors)),
            ("max_fds", String(process.maxDescriptors)),
            ("inflight_requests", String(inFlightRequests)),
            ("client_connections", String(clientConnections)),
            ("http2_streams_open", String(listenerProtocolStats.reduce(0) { $0 + $1.http2StreamsOpen })),
            ("event_loop_lag_seconds", JSONWriter.array(lags.map { String(format6($0)) })),
            ("tunnels_open", String(stats.tunnelsOpen.load(ordering: .relaxed))),
            ("access_log_dropped", String(accessLog.dropped.load(ordering: .relaxed))),
        ])
    }

    /// Routed requests in flight, over the upstreams of the state in force.
    var inFlightRequests: Int {
        currentState.upstreams.values.reduce(0) { $0 + $1.activeRequests.load(ordering: .relaxed) }
    }

    /// Open client connections over all listeners.
    var clientConnections: Int { listenerServers.reduce(0) { $0 + $1.connectionCount } }

    /// One server in `/status`.
    private func serverJSON(_ server: GatewaySnapshot.Server, _ live: UpstreamServer) -> String {
        let load = live.load
        let requests = load.answered.load(ordering: .relaxed) + load.failed.load(ordering: .relaxed)
        let errorRate: String = monitor.errorRate(of: live).map { format3($0) } ?? "null"
        let connections = JSONWriter.object([
            ("open", String(load.open.load(ordering: .relaxed))), ("idle", String(load.idle.load(ordering: .relaxed))),
        ])
        let fields: [(String, String)] = [
            ("address", JSONWriter.quoted(server.address)),
            ("zone", server.zone.map(JSONWriter.quoted) ?? "null"),
            ("state", JSONWriter.quoted(Self.state(of: server))),
            ("healthy", server.healthy ? "true" : "false"),
            ("ejected", server.ejected ? "true" : "false"),
            ("unreachable", server.unreachable ? "true" : "false"),
            ("drained", server.drained ? "true" : "false"),
            ("backup", server.backup ? "true" : "false"),
            ("weight", String(server.weight)),
            ("in_flight", String(load.inFlight)),
            ("requests", String(requests)),
            ("error_rate", errorRate),
            ("connections", connections),
        ]
        return JSONWriter.object(fields)
    }

    /// `GET /status`.
    func statusJSON() -> String {
        let state = currentState
        let now = TrafficClock.now()
        let snapshot = self.snapshot()
        let config = self.config
        let (hash, loadedAt) = configIdentity
        let upstreams = snapshot.upstreams.map { upstream -> String in
            let pool = state.upstreams[upstream.name]
            let (open, idle, pending) = pool?.connectionTotals ?? (0, 0, 0)
            var fields: [(String, String)] = [
                ("name", JSONWriter.quoted(upstream.name)),
                ("active_requests", String(upstream.activeRequests)),
                ("panic", upstream.panic ? "true" : "false"),
                ("connections", JSONWriter.object([
                    ("open", String(open)), ("idle", String(idle)), ("pending", String(pending)),
                ])),
                ("servers", JSONWriter.array(zip(upstream.servers, pool?.servers ?? []).map { serverJSON($0, $1) })),
            ]
            if let traffic = pool?.traffic {
                if let breaker = traffic.breaker { fields.append(("circuit_breaker", Self.breakerJSON(breaker, now: now))) }
                if let adaptive = traffic.adaptive { fields.append(("adaptive_concurrency", Self.adaptiveJSON(adaptive))) }
                if let cap = traffic.maxRequests { fields.append(("requests_in_flight", String(cap.current))) }
            }
            return JSONWriter.object(fields)
        }
        let routes = config.routes.map { route -> String in
            let traffic = state.routeTraffic[route.name]
            let rules = traffic?.degradeRules.map { $0.state(now: now) } ?? []
            var fields: [(String, String)] = [
                ("name", JSONWriter.quoted(route.name)),
                ("match", JSONWriter.quoted(route.match)),
                ("upstream", JSONWriter.quoted(route.upstream)),
                ("priority", JSONWriter.quoted(traffic?.priority.description ?? "normal")),
                ("manual_degrade", traffic?.manualSwitch.isOn == true ? "true" : "false"),
                ("degraded", traffic?.manualSwitch.isOn == true || rules.contains(.degraded) ? "true" : "false"),
                ("degrade_rules", JSONWriter.array(rules.map { JSONWriter.quoted($0.rawValue) })),
                ("rate_limits", JSONWriter.array((traffic?.rateLimits ?? []).map { limit in
                    JSONWriter.quoted(
                        "\(limit.config.count)/\(ValueParsing.text(limit.config.period)) key=\(limit.config.key)"
                            + (limit.config.shadow ? " shadow" : ""))
                })),
            ]
            let filters = Self.filterNames(route.filters)
            if !filters.isEmpty { fields.append(("filters", JSONWriter.array(filters.map(JSONWriter.quoted)))) }
            if let breaker = traffic?.breaker { fields.append(("circuit_breaker", Self.breakerJSON(breaker, now: now))) }
            if let adaptive = traffic?.adaptive { fields.append(("adaptive_concurrency", Self.adaptiveJSON(adaptive))) }
            return JSONWriter.object(fields)
        }
        var fields: [(String, String)] = [
            ("version", JSONWriter.quoted(Sluice.version)),
            ("generation", String(state.generation)),
            ("config", JSONWriter.object([
                ("hash", JSONWriter.quoted(hash)),
                ("loaded_at", String(format3(loadedAt))),
                ("file", JSONWriter.quoted(config.server.location.file)),
                ("routes", String(config.routes.count)),
                ("upstreams", String(config.upstreams.count)),
                ("listeners", JSONWriter.array(config.server.listen.map { JSONWriter.quoted("\($0)") })),
                ("zone", config.server.zone.map(JSONWriter.quoted) ?? "null"),
                ("access_log", JSONWriter.quoted(
                    config.server.accessLog
                        ? "\(config.server.accessLogTarget) (\(config.server.accessLogFormat.rawValue))" : "off")),
            ])),
            ("runtime", runtimeJSON()),
            ("counters", JSONWriter.object(counters.map { ($0.name, String($0.value)) })),
            ("upstreams", JSONWriter.array(upstreams)),
            ("routes", JSONWriter.array(routes)),
        ]
        if let protection = state.protection {
            let snapshot = protection.snapshot(now: now)
            fields.append((
                "protection",
                JSONWriter.object([
                    ("inflight", String(snapshot.inflight)),
                    ("capacity", snapshot.estimatedCapacity.map { String(Int($0.rounded())) } ?? "null"),
                    ("shedding", JSONWriter.array(snapshot.shed.map { JSONWriter.quoted($0.description) })),
                ])
            ))
        }
        return JSONWriter.object(fields)
    }

    /// `GET /debug/state`: everything that holds resources, counted, to find what grows.
    func debugStateJSON() -> String {
        let state = currentState
        let servers = allServers.map { server in
            JSONWriter.object([
                ("server", JSONWriter.quoted(server.target.description)),
                ("zone", server.zone.map(JSONWriter.quoted) ?? "null"),
                ("connections_open", String(server.load.open.load(ordering: .relaxed))),
                ("connections_idle", String(server.load.idle.load(ordering: .relaxed))),
                ("waiting", String(server.load.pending.load(ordering: .relaxed))),
                ("local_failures", String(server.load.localFailures.load(ordering: .relaxed))),
                ("health_checking", server.isChecking ? "true" : "false"),
            ])
        }
        let limiters = state.routeTraffic.values.sorted { $0.name < $1.name }.flatMap { route in
            route.rateLimits.compactMap { limit -> String? in
                guard case .keyed(let table) = limit.store else { return nil }
                return JSONWriter.object([
                    ("route", JSONWriter.quoted(route.name)), ("key", JSONWriter.quoted("\(limit.config.key)")),
                    ("keys", String(table.keyCount)), ("evicted_active", String(table.evictedActive)),
                ])
            }
        }
        let listeners = listenerEntries.map { address, server in
            JSONWriter.object([
                ("address", JSONWriter.quoted("\(address)")), ("connections", String(server.connectionCount)),
                ("refused", String(server.refusedConnections)),
            ])
        }
        return JSONWriter.object([
            ("generation", String(state.generation)),
            ("runtime", runtimeJSON()),
            ("listeners", JSONWriter.array(listeners)),
            ("pools", JSONWriter.array(servers)),
            ("retiring_servers", String(retiringCount)),
            ("rate_limit_tables", JSONWriter.array(limiters)),
            ("tunnels_open", String(stats.tunnelsOpen.load(ordering: .relaxed))),
            ("dns", JSONWriter.object([
                ("lookups", String(discovery?.counts.lookups ?? 0)), ("failures", String(discovery?.counts.failures ?? 0)),
            ])),
        ])
    }

    /// The filters a route has on, by key (`rewrite`, `auth=jwt`, `cors`…), for `/status`.
    static func filterNames(_ filters: RouteFiltersConfig) -> [String] {
        var names: [String] = []
        if filters.rewrite.stripPrefix != nil { names.append("strip_prefix") }
        if filters.rewrite.rewrite != nil { names.append("rewrite") }
        if filters.rewrite.addPrefix != nil { names.append("add_prefix") }
        if !filters.requestHeaders.isEmpty { names.append("request_header") }
        if !filters.responseHeaders.isEmpty { names.append("response_header") }
        if let answer = filters.directAnswer { names.append("return=\(answer.status)") }
        if filters.cors != nil { names.append("cors") }
        if filters.access != nil { names.append("allow/deny") }
        if let auth = filters.auth {
            switch auth.kind {
            case .jwt: names.append("auth=jwt")
            case .apiKey: names.append("auth=api_key")
            case .basic: names.append("auth=basic")
            case .forward: names.append("auth=forward")
            }
        }
        if let mirror = filters.mirror { names.append("mirror=\(mirror.upstream)") }
        return names
    }
}

/// `x` with three decimals (JSON numbers, no exponent).
func format3(_ value: Double) -> String { fixed(value, scale: 1000) }
func format6(_ value: Double) -> String { fixed(value, scale: 1_000_000) }

private func fixed(_ value: Double, scale: Int) -> String {
    guard value.isFinite else { return "0" }
    let scaled = Int((abs(value) * Double(scale)).rounded())
    let digits = String(scale).count - 1
    let fraction = String(scaled % scale)
    return (value < 0 ? "-" : "") + "\(scaled / scale)." + String(repeating: "0", count: digits - fraction.count) + fraction
}
