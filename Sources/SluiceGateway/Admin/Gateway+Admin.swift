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

    /// Drains a server of an upstream (no new requests, even in panic), or puts it back. False if there is no
    /// such server. The drain survives reloads that keep the server.
    @discardableResult
    public func setDrained(upstream: String, server address: String, _ on: Bool) -> Bool {
        guard let server = currentState.upstreams[upstream]?.servers.first(where: { $0.target.description == address })
        else { return false }
        if server.health.setDrained(on) {
            logger.notice(
                on ? "server drained by hand" : "server back in rotation by hand",
                metadata: ["upstream": "\(upstream)", "server": "\(address)"])
        }
        return true
    }

    /// Answers one admin API request, once `AdminAccess` let it in.
    func adminReply(_ head: HTTPRequestHead) -> AdminServer.Reply {
        let access = AdminAccess(
            token: config.server.adminToken, loopback: config.server.admin?.isLoopback ?? true)
        let headers = head.headers
        if (head.method == .GET || head.method == .HEAD) && head.uri == "/" {
            // The page itself is static and says nothing: a browser must be able to open it to type the token in.
            return .now(adminAnswer(method: head.method, path: "/", query: ""))
        }
        switch access.decide(
            method: head.method.rawValue, host: headers.first(name: "host"), origin: headers.first(name: "origin"),
            fetchSite: headers.first(name: "sec-fetch-site"), authorization: headers.first(name: "authorization"))
        {
        case .allow:
            break
        case .unauthorized(let reason):
            var answer = AdminServer.Answer.json(JSONWriter.object([("error", JSONWriter.quoted(reason))]), status: .unauthorized)
            answer.headers.append(("www-authenticate", #"Bearer realm="sluice-admin""#))
            return .now(answer)
        case .forbidden(let reason):
            return .now(.json(JSONWriter.object([("error", JSONWriter.quoted(reason))]), status: .forbidden))
        }
        let uri = head.uri[...]
        let question = uri.firstIndex(of: "?")
        let path = question.map { uri[..<$0] } ?? uri
        let query = question.map { uri[uri.index(after: $0)...] } ?? ""
        if (head.method == .POST || head.method == .PUT) && path == "/reload" {
            return .later { [weak self] in await self?.adminReload() ?? .text("shutting down", status: .serviceUnavailable) }
        }
        return .now(adminAnswer(method: head.method, path: path, query: query))
    }

    /// `POST /reload`: what SIGHUP does, answered with the outcome.
    func adminReload() async -> AdminServer.Answer {
        guard let reload = reloader.withLockedValue({ $0 }) else {
            return .json(#"{"error": "this gateway has no configuration file to reload"}"#, status: .conflict)
        }
        if let problem = await reload() {
            return .json(JSONWriter.object([
                ("reloaded", "false"), ("error", JSONWriter.quoted(problem)), ("generation", String(generation)),
            ]), status: .unprocessableEntity)
        }
        return .json(JSONWriter.object([("reloaded", "true"), ("generation", String(generation))]))
    }

    /// Answers one admin API request that passed the access checks.
    func adminAnswer(method: HTTPMethod, path: Substring, query: Substring) -> AdminServer.Answer {
        switch (method, path) {
        case (.GET, "/"), (.HEAD, "/"):
            var page = AdminServer.Answer(status: .ok, contentType: "text/html; charset=utf-8", body: StatusPage.html)
            page.headers = [
                ("content-security-policy",
                 "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; "
                    + "img-src data:; frame-ancestors 'none'; form-action 'none'; base-uri 'none'"),
                ("x-frame-options", "DENY"), ("referrer-policy", "no-referrer"),
            ]
            return page
        case (.GET, "/status"), (.HEAD, "/status"):
            return .json(statusJSON())
        case (.GET, "/debug/state"), (.HEAD, "/debug/state"):
            return .json(debugStateJSON())
        case (.GET, "/metrics"), (.HEAD, "/metrics"):
            return AdminServer.Answer(
                status: .ok, contentType: "text/plain; version=0.0.4; charset=utf-8",
                body: String(decoding: metricsText(), as: UTF8.self))
        case (.GET, "/degrade"):
            let on = currentState.routeTraffic.values.filter { $0.manualSwitch.isOn }.map(\.name).sorted()
            return .json(JSONWriter.object([("degraded", JSONWriter.array(on.map(JSONWriter.quoted)))]))
        case (.POST, "/degrade"), (.PUT, "/degrade"):
            return degradeAnswer(query)
        case (.POST, "/drain"), (.PUT, "/drain"):
            return drainAnswer(query)
        case (_, "/status"), (_, "/metrics"), (_, "/degrade"), (_, "/drain"), (_, "/reload"), (_, "/debug/state"), (_, "/"):
            return .json(#"{"error": "method not allowed"}"#, status: .methodNotAllowed)
        default:
            return .json(
                #"{"error": "not found; try /, /status, /metrics, /debug/state, /degrade, /drain or /reload"}"#,
                status: .notFound)
        }
    }

    private func onOff(_ query: Substring) -> Bool? {
        switch queryValue("state", in: query) {
        case "on": true
        case "off": false
        default: nil
        }
    }

    private func degradeAnswer(_ query: Substring) -> AdminServer.Answer {
        guard let route = queryValue("route", in: query) else {
            return .json(#"{"error": "give ?route=NAME&state=on|off"}"#, status: .badRequest)
        }
        guard let state = onOff(query) else { return .json(#"{"error": "state must be on or off"}"#, status: .badRequest) }
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
    }

    private func drainAnswer(_ query: Substring) -> AdminServer.Answer {
        guard let upstream = queryValue("upstream", in: query), let server = queryValue("server", in: query) else {
            return .json(#"{"error": "give ?upstream=NAME&server=HOST:PORT&state=on|off"}"#, status: .badRequest)
        }
        let address = server
        guard let state = onOff(query) else { return .json(#"{"error": "state must be on or off"}"#, status: .badRequest) }
        guard setDrained(upstream: upstream, server: address, state) else {
            let known = currentState.upstreams[upstream]?.servers.map { JSONWriter.quoted($0.target.description) }
            return .json(
                JSONWriter.object([
                    ("error", JSONWriter.quoted("no server '\(address)' in upstream '\(upstream)'")),
                    ("servers", known.map(JSONWriter.array) ?? "null"),
                ]), status: .notFound)
        }
        return .json(JSONWriter.object([
            ("upstream", JSONWriter.quoted(upstream)), ("server", JSONWriter.quoted(address)),
            ("drained", state ? "true" : "false"),
        ]))
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
}
