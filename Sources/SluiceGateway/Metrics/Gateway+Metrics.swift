import Atomics
import SluiceServer
import SluiceTraffic

/// `GET /metrics`: the registry's series, after the scrape-time gauges are set from the gateway's state.
extension Gateway {
    func metricsText() -> [UInt8] {
        let state = currentState
        let now = TrafficClock.now()
        let snapshot = self.snapshot()
        // Counters kept as atomics elsewhere, under their historical names (`sluice_<name>_total`).
        // (`requests` is `requests_received` there: `sluice_requests_total` is the labelled series by route.)
        for (name, value) in counters {
            let metric = name == "requests" ? "requests_received" : name
            metrics.copy(MetricCatalog.counter(metric, Self.counterHelp[name] ?? "Counted by the gateway: \(name)."), total: value)
        }
        let protocols = listenerProtocolStats
        metrics.copy(MetricCatalog.gzipIn, total: stats.gzipIn.load(ordering: .relaxed))
        metrics.copy(MetricCatalog.gzipOut, total: stats.gzipOut.load(ordering: .relaxed))
        var seen = Set<ObjectIdentifier>()
        for pool in state.upstreams.values {
            for server in pool.servers where seen.insert(ObjectIdentifier(server)).inserted {
                let labels = [("upstream", pool.name), ("server", server.target.description)]
                metrics.copy(MetricCatalog.localOriginFailures, labels: labels, total: server.load.localFailures.load(ordering: .relaxed))
                metrics.copy(
                    MetricCatalog.serverRequests, labels: labels + [("outcome", "answered")],
                    total: server.load.answered.load(ordering: .relaxed))
                metrics.copy(
                    MetricCatalog.serverRequests, labels: labels + [("outcome", "failed")],
                    total: server.load.failed.load(ordering: .relaxed))
            }
        }
        let process = ProcessStats.read()
        return metrics.render { gauges in
            for upstream in snapshot.upstreams {
                guard let pool = state.upstreams[upstream.name] else { continue }
                let name = [("upstream", upstream.name)]
                for (server, live) in zip(upstream.servers, pool.servers) {
                    let labels = name + [("server", server.address), ("zone", server.zone ?? "")]
                    gauges.set(MetricCatalog.serverHealthy, labels, server.healthy)
                    gauges.set(MetricCatalog.serverEjected, labels, server.ejected)
                    gauges.set(MetricCatalog.serverUnreachable, labels, server.unreachable)
                    gauges.set(MetricCatalog.serverDrained, labels, server.drained)
                    gauges.set(MetricCatalog.serverInFlight, labels, live.load.inFlight)
                }
                let (open, idle, pending) = pool.connectionTotals
                gauges.set(MetricCatalog.poolOpen, name, open)
                gauges.set(MetricCatalog.poolIdle, name, idle)
                gauges.set(MetricCatalog.poolPending, name, pending)
                gauges.set(MetricCatalog.upstreamInFlight, name, upstream.activeRequests)
                if let breaker = pool.traffic?.breaker {
                    Self.setBreaker(breaker, owner: "upstream", name: upstream.name, now: now, into: &gauges)
                }
            }
            for route in state.routeTraffic.values {
                if let breaker = route.breaker {
                    Self.setBreaker(breaker, owner: "route", name: route.name, now: now, into: &gauges)
                }
                let degraded = route.manualSwitch.isOn || route.degradeRules.contains { $0.state(now: now) == .degraded }
                gauges.set(MetricCatalog.routeDegraded, [("route", route.name)], degraded)
            }
            gauges.set(MetricCatalog.clientConnections, [], clientConnections)
            gauges.set(MetricCatalog.http2StreamsOpen, [], protocols.reduce(0) { $0 + $1.http2StreamsOpen })
            gauges.set(MetricCatalog.tunnelsOpen, [], stats.tunnelsOpen.load(ordering: .relaxed))
            gauges.set(MetricCatalog.inFlight, [], inFlightRequests)
            gauges.set(MetricCatalog.residentMemory, [], process.residentBytes)
            gauges.set(MetricCatalog.openFDs, [], process.openDescriptors)
            gauges.set(MetricCatalog.maxFDs, [], process.maxDescriptors)
            gauges.set(MetricCatalog.uptime, [], monitor.uptimeSeconds)
            for (index, lag) in monitor.lagSeconds.enumerated() {
                gauges.set(MetricCatalog.eventLoopLag, [("loop", String(index))], lag)
            }
        }
    }

    private static func setBreaker(
        _ breaker: SharedCircuitBreaker, owner: String, name: String, now: Duration, into gauges: inout GatewayMetrics.GaugeSet
    ) {
        let current = breaker.snapshot(now: now).state
        for state in [CircuitState.closed, .open, .halfOpen] {
            gauges.set(
                MetricCatalog.breakerState, [("owner", owner), ("name", name), ("state", state.rawValue)], current == state)
        }
    }

    /// Help texts of the counters `GatewayStats` keeps.
    static let counterHelp: [String: String] = [
        "requests": "Requests received from clients (all routes).",
        "upstream_responses": "Responses relayed from upstreams.",
        "not_found": "Requests answered 404 (no route).",
        "bad_requests": "Requests refused for their path or method (400, 405).",
        "bad_gateway": "Answers 502 made by the gateway.",
        "service_unavailable": "Answers 503 made by the gateway.",
        "gateway_timeout": "Answers 504 made by the gateway.",
        "retries": "Tries repeated on another server.",
        "connect_failures": "Upstream connects refused or timed out.",
        "aborted": "Exchanges cut off after the answer had started.",
        "rate_limited": "Requests answered 429 by a rate limit.",
        "rate_limited_shadow": "Requests over a shadow rate limit (let through).",
        "paced": "Requests held back by pace=.",
        "shed": "Requests shed by [protection].",
        "degraded": "Answers degraded (fallback or 503).",
        "breaker_rejected": "Requests refused by an open circuit breaker.",
        "breaker_opened": "Circuit breakers that went to open.",
        "adaptive_rejected": "Requests refused by an adaptive concurrency limit.",
        "overflow": "Requests refused by max_requests or max_pending.",
        "fault_aborts": "Faults injected: aborts.",
        "fault_delays": "Faults injected: delays.",
        "global_fail_open": "Global rate-limit checks let through because Redis did not answer.",
        "connections_refused": "Client connections closed at accept (max_client_connections).",
        "tunnels": "WebSocket tunnels opened.",
        "tls_handshakes": "TLS handshakes completed by client connections.",
        "tls_handshake_failures": "TLS handshakes that failed or timed out.",
        "http2_connections": "HTTP/2 client connections opened.",
        "http2_streams": "HTTP/2 client streams opened.",
    ]
}
