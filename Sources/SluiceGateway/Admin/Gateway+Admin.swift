import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceServer
import SluiceTraffic

extension Gateway {
    /// Turns a route's manual degrade switch on or off (the admin API's `POST /degrade`). False if no route has
    /// that name. The switch survives reloads that keep the route.
    @discardableResult
    public func setDegraded(route name: String, _ on: Bool) -> Bool {
        guard let traffic = currentState.routeTraffic[name] else { return false }
        _ = traffic.manualSwitch.set(on)
        logger.notice("manual degrade switch", metadata: ["route": "\(name)", "state": "\(on ? "on" : "off")"])
        return true
    }

    /// Answers one admin API request, once `AdminAccess` let it in.
    func adminAnswer(_ head: HTTPRequestHead) -> AdminServer.Answer {
        let access = AdminAccess(
            token: config.server.adminToken, loopback: config.server.admin?.isLoopback ?? true)
        let headers = head.headers
        switch access.decide(
            method: head.method.rawValue, host: headers.first(name: "host"), origin: headers.first(name: "origin"),
            fetchSite: headers.first(name: "sec-fetch-site"), authorization: headers.first(name: "authorization"))
        {
        case .allow:
            break
        case .unauthorized(let reason):
            var answer = AdminServer.Answer.json(JSONWriter.object([("error", JSONWriter.quoted(reason))]), status: .unauthorized)
            answer.headers.append(("www-authenticate", #"Bearer realm="sluice-admin""#))
            return answer
        case .forbidden(let reason):
            return .json(JSONWriter.object([("error", JSONWriter.quoted(reason))]), status: .forbidden)
        }
        let uri = head.uri[...]
        let question = uri.firstIndex(of: "?")
        let path = question.map { uri[..<$0] } ?? uri
        let query = question.map { uri[uri.index(after: $0)...] } ?? ""
        return adminAnswer(method: head.method, path: path, query: query)
    }

    /// Answers one admin API request that passed the access checks.
    func adminAnswer(method: HTTPMethod, path: Substring, query: Substring) -> AdminServer.Answer {
        switch (method, path) {
        case (.GET, "/status"), (.HEAD, "/status"):
            return .json(statusJSON())
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            return AdminServer.Answer(
                status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8", body: metricsText())
        case (.GET, "/degrade"):
            let on = currentState.routeTraffic.values.filter { $0.manualSwitch.isOn }.map(\.name).sorted()
            return .json(JSONWriter.object([("degraded", JSONWriter.array(on.map(JSONWriter.quoted)))]))
        case (.POST, "/degrade"), (.PUT, "/degrade"):
            guard let route = queryValue("route", in: query) else {
                return .json(#"{"error": "give ?route=NAME&state=on|off"}"#, status: .badRequest)
            }
            let state: Bool
            switch queryValue("state", in: query) {
            case "on": state = true
            case "off": state = false
            default: return .json(#"{"error": "state must be on or off"}"#, status: .badRequest)
            }
            guard currentState.routeTraffic[route] != nil else {
                let known = currentState.routeTraffic.keys.sorted().map(JSONWriter.quoted)
                return .json(
                    JSONWriter.object([
                        ("error", JSONWriter.quoted("no route '\(route)' with traffic control")),
                        ("routes", JSONWriter.array(known)),
                    ]), status: .notFound)
            }
            setDegraded(route: route, state)
            return .json(JSONWriter.object([("route", JSONWriter.quoted(route)), ("degraded", state ? "true" : "false")]))
        case (_, "/status"), (_, "/metrics"), (_, "/degrade"):
            return .json(#"{"error": "method not allowed"}"#, status: .methodNotAllowed)
        default:
            return .json(#"{"error": "not found; try /status, /metrics or /degrade"}"#, status: .notFound)
        }
    }

    /// `GET /status`.
    func statusJSON() -> String {
        let state = currentState
        let now = TrafficClock.now()
        let snapshot = self.snapshot()
        let upstreams = snapshot.upstreams.map { upstream -> String in
            var fields: [(String, String)] = [
                ("name", JSONWriter.quoted(upstream.name)),
                ("active_requests", String(upstream.activeRequests)),
                ("panic", upstream.panic ? "true" : "false"),
                ("servers", JSONWriter.array(upstream.servers.map { server in
                    JSONWriter.object([
                        ("address", JSONWriter.quoted(server.address)),
                        ("zone", server.zone.map(JSONWriter.quoted) ?? "null"),
                        ("healthy", server.healthy ? "true" : "false"),
                        ("ejected", server.ejected ? "true" : "false"),
                        ("unreachable", server.unreachable ? "true" : "false"),
                        ("backup", server.backup ? "true" : "false"),
                    ])
                })),
            ]
            if let traffic = state.upstreams[upstream.name]?.traffic {
                if let breaker = traffic.breaker { fields.append(("circuit_breaker", Self.breakerJSON(breaker, now: now))) }
                if let adaptive = traffic.adaptive { fields.append(("adaptive_concurrency", Self.adaptiveJSON(adaptive))) }
                if let cap = traffic.maxRequests { fields.append(("requests_in_flight", String(cap.current))) }
            }
            return JSONWriter.object(fields)
        }
        let routes = state.routeTraffic.values.sorted { $0.name < $1.name }.map { route -> String in
            var fields: [(String, String)] = [
                ("name", JSONWriter.quoted(route.name)),
                ("priority", JSONWriter.quoted(route.priority.description)),
                ("manual_degrade", route.manualSwitch.isOn ? "true" : "false"),
                ("degrade_rules", JSONWriter.array(route.degradeRules.map { JSONWriter.quoted("\($0.state(now: now))") })),
                ("rate_limits", JSONWriter.array(route.rateLimits.map { limit in
                    JSONWriter.quoted(
                        "\(limit.config.count)/\(ValueParsing.text(limit.config.period)) key=\(limit.config.key)"
                            + (limit.config.shadow ? " shadow" : ""))
                })),
            ]
            if let breaker = route.breaker { fields.append(("circuit_breaker", Self.breakerJSON(breaker, now: now))) }
            if let adaptive = route.adaptive { fields.append(("adaptive_concurrency", Self.adaptiveJSON(adaptive))) }
            return JSONWriter.object(fields)
        }
        var fields: [(String, String)] = [
            ("version", JSONWriter.quoted(Sluice.version)),
            ("generation", String(state.generation)),
            ("tunnels_open", String(stats.tunnelsOpen.load(ordering: .relaxed))),
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

    static func breakerJSON(_ breaker: SharedCircuitBreaker, now: Duration) -> String {
        let snapshot = breaker.snapshot(now: now)
        return JSONWriter.object([
            ("state", JSONWriter.quoted(snapshot.state.rawValue)),
            ("calls", String(snapshot.calls)),
            ("failure_rate", String(snapshot.failureRatePercent)),
            ("slow_rate", String(snapshot.slowCallRatePercent)),
        ])
    }

    static func adaptiveJSON(_ limiter: AdaptiveConcurrencyLimiter) -> String {
        JSONWriter.object([("limit", String(limiter.limit)), ("inflight", String(limiter.inflight))])
    }

    /// Every counter, by its metric name.
    var counters: [(name: String, value: Int)] {
        let s = stats
        return [
            ("requests", s.requests), ("upstream_responses", s.upstreamResponses), ("not_found", s.notFound), ("bad_requests", s.badRequests),
            ("bad_gateway", s.badGateway), ("service_unavailable", s.serviceUnavailable),
            ("gateway_timeout", s.gatewayTimeout), ("retries", s.retries), ("connect_failures", s.connectFailures),
            ("aborted", s.aborted), ("rate_limited", s.rateLimited), ("rate_limited_shadow", s.rateLimitedShadow),
            ("paced", s.paced), ("shed", s.shed), ("degraded", s.degraded), ("breaker_rejected", s.breakerRejected),
            ("breaker_opened", s.breakerOpened), ("adaptive_rejected", s.adaptiveRejected), ("overflow", s.overflow),
            ("fault_aborts", s.faultAborts), ("fault_delays", s.faultDelays), ("global_fail_open", s.globalFailOpen),
        ].map { ($0.0, $0.1.load(ordering: .relaxed)) } + [("connections_refused", refusedConnections)]
            + protocolCounters + [("tunnels", stats.tunnels.load(ordering: .relaxed))]
    }

    /// TLS handshakes, HTTP/2 connections and streams, and each HTTP/2 abuse pattern cut off, over all listeners.
    var protocolCounters: [(String, Int)] {
        let stats = listenerProtocolStats
        var counters = [
            ("tls_handshakes", stats.reduce(0) { $0 + $1.tlsHandshakes }),
            ("tls_handshake_failures", stats.reduce(0) { $0 + $1.tlsFailures }),
            ("http2_connections", stats.reduce(0) { $0 + $1.http2Connections }),
            ("http2_streams", stats.reduce(0) { $0 + $1.http2Streams }),
        ]
        for abuse in ProtocolStats.Abuse.allCases {
            counters.append(("http2_abuse_\(abuse.rawValue)", stats.reduce(0) { $0 + $1.count(of: abuse) }))
        }
        return counters
    }

    /// `GET /metrics`: Prometheus text exposition.
    func metricsText() -> String {
        var text = ""
        for (name, value) in counters {
            text += "# TYPE sluice_\(name)_total counter\nsluice_\(name)_total \(value)\n"
        }
        text += "# TYPE sluice_tunnels_open gauge\nsluice_tunnels_open \(stats.tunnelsOpen.load(ordering: .relaxed))\n"
        text += "# TYPE sluice_config_generation gauge\nsluice_config_generation \(currentState.generation)\n"
        return text
    }
}
