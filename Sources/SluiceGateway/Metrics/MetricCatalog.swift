import Prometheus

/// Every metric the gateway exposes, named once with its help text (Prometheus conventions: `sluice_` prefix,
/// `_total` for counters, base units such as `_seconds` and `_bytes`). A name must always be registered with the
/// same help and the same label names, so both live here and nowhere else.
enum MetricCatalog {
    static func counter(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", metricName: name, unitName: "total", helpText: help)
    }

    static func gauge(_ name: String, unit: String = "", _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "sluice", metricName: name, unitName: unit, helpText: help)
    }

    // Requests, by route.
    static var requests: MetricNameDescriptor {
        counter("requests", "Requests answered, by route, method and status class (route \"-\": not routed).")
    }
    static var requestDuration: MetricNameDescriptor {
        gauge(
            "request_duration", unit: "seconds", "Time from a request's head to the end of its answer, by route.")
    }
    static var upstreamDuration: MetricNameDescriptor {
        gauge(
            "upstream_request_duration", unit: "seconds",
            "Time from sending a request upstream to the end of the upstream's answer, by upstream and zone.")
    }
    static var rateLimitDecisions: MetricNameDescriptor {
        counter(
            "rate_limit_decisions", "Rate-limit decisions on routes with rate limits, by route and outcome.")
    }
    static var degradedAnswers: MetricNameDescriptor {
        counter("degraded_answers", "Answers degraded by the gateway (fallback or 503), by route and cause.")
    }
    static var authDecisions: MetricNameDescriptor {
        counter("auth_decisions", "Requests decided by a route's auth, by route and outcome (passed, refused, unavailable).")
    }
    static var mirrorRequests: MetricNameDescriptor {
        counter("mirror_requests", "Mirrored copies by route and outcome (sent, answered, failed, skipped).")
    }
    static var accessDenied: MetricNameDescriptor {
        counter("access_denied", "Requests refused 403 by a route's allow/deny, by route.")
    }
    static var upstreamRetries: MetricNameDescriptor {
        counter("upstream_retries", "Tries repeated on another server, by upstream.")
    }
    static var retryBudgetRefusals: MetricNameDescriptor {
        counter(
            "upstream_retry_budget_exhausted", "Retries refused because the upstream's retry budget was spent.")
    }
    static var localOriginFailures: MetricNameDescriptor {
        counter(
            "upstream_local_origin_failures",
            "Connects refused or timed out, and fresh connections closed before any answer, by upstream and server.")
    }
    static var serverRequests: MetricNameDescriptor {
        counter("upstream_server_requests", "Answers and failures per upstream server, by outcome.")
    }

    // Upstream state, set when scraped.
    static var serverHealthy: MetricNameDescriptor {
        gauge("upstream_server_healthy", "1 when active health checks pass (or none are configured).")
    }
    static var serverEjected: MetricNameDescriptor {
        gauge("upstream_server_ejected", "1 while the outlier detector has the server ejected.")
    }
    static var serverUnreachable: MetricNameDescriptor {
        gauge(
            "upstream_server_unreachable", "1 while failed connects keep the server out of rotation (max_fails).")
    }
    static var serverDrained: MetricNameDescriptor {
        gauge("upstream_server_drained", "1 while an operator drained the server (admin API).")
    }
    static var serverInFlight: MetricNameDescriptor {
        gauge("upstream_server_in_flight_requests", "Requests on the server now.")
    }
    static var poolOpen: MetricNameDescriptor {
        gauge("upstream_connections_open", "Upstream connections open (busy, idle and connecting), by upstream.")
    }
    static var poolIdle: MetricNameDescriptor {
        gauge("upstream_connections_idle", "Idle pooled upstream connections, by upstream.")
    }
    static var poolPending: MetricNameDescriptor {
        gauge("upstream_connections_pending", "Requests waiting for an upstream connection, by upstream.")
    }
    static var upstreamInFlight: MetricNameDescriptor {
        gauge("upstream_in_flight_requests", "Requests in flight, by upstream.")
    }
    static var breakerState: MetricNameDescriptor {
        gauge(
            "circuit_breaker_state", "1 for the breaker's current state (closed, open, half_open), by owner (upstream or route).")
    }
    static var routeDegraded: MetricNameDescriptor {
        gauge("route_degraded", "1 while a route is degraded by hand or by a degrade rule.")
    }

    // Connections and the daemon.
    static var clientConnections: MetricNameDescriptor {
        gauge("client_connections", "Client connections open now, over all listeners.")
    }
    static var http2StreamsOpen: MetricNameDescriptor {
        gauge("http2_streams_open", "HTTP/2 client streams open now.")
    }
    static var tunnelsOpen: MetricNameDescriptor {
        gauge("tunnels_open", "WebSocket tunnels open now.")
    }
    static var inFlight: MetricNameDescriptor {
        gauge("in_flight_requests", "Routed requests in flight now, over all upstreams.")
    }
    static var residentMemory: MetricNameDescriptor {
        gauge("process_resident_memory", unit: "bytes", "Resident memory of the gateway process.")
    }
    static var openFDs: MetricNameDescriptor {
        gauge("process_open_fds", "Open file descriptors of the gateway process.")
    }
    static var maxFDs: MetricNameDescriptor {
        gauge("process_max_fds", "The file descriptor limit (RLIMIT_NOFILE, soft).")
    }
    static var uptime: MetricNameDescriptor {
        gauge("uptime", unit: "seconds", "Seconds since the gateway started.")
    }
    static var eventLoopLag: MetricNameDescriptor {
        gauge(
            "event_loop_lag", unit: "seconds", "How late the last probe task ran on each event loop (its delay).")
    }
    static var buildInfo: MetricNameDescriptor {
        gauge("build_info", "Always 1; the version is a label.")
    }

    // Configuration.
    static var reloads: MetricNameDescriptor {
        counter("config_reloads", "Configuration reloads, by result (success, failure).")
    }
    static var configInfo: MetricNameDescriptor {
        gauge("config_info", "Always 1; the loaded configuration's hash (FNV-1a, 16 hex digits) is a label.")
    }
    static var configLoaded: MetricNameDescriptor {
        gauge(
            "config_last_reload_success_timestamp", unit: "seconds", "When the configuration in force was loaded (Unix time).")
    }
    static var configGeneration: MetricNameDescriptor {
        gauge("config_generation", "Configurations applied so far (1 before any reload).")
    }
    static var lastReloadSuccessful: MetricNameDescriptor {
        gauge("config_last_reload_successful", "1 when the last reload succeeded.")
    }

    // Edge protocols.
    static var gzipIn: MetricNameDescriptor {
        counter("gzip_in_bytes", "Response bytes handed to gzip compression.")
    }
    static var gzipOut: MetricNameDescriptor {
        counter("gzip_out_bytes", "Compressed response bytes sent.")
    }

    /// Request durations: 1 ms to 10 s.
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .microseconds(2_500_000), .seconds(5), .seconds(10),
    ]
}
