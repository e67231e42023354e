import SluiceConfig

private let hour = Duration.seconds(3_600)
private let day = Duration.seconds(86_400)
private let aboveZero = Duration.nanoseconds(1)

private func n(_ value: Int?) -> Double? { value.map(Double.init) }
private func d(_ value: Duration?) -> Double? { value.map(seconds) }

private func key(
    _ section: KeyRange.Section, _ key: String, _ option: String?, _ template: String, _ kind: KeyRange.Kind,
    _ read: @escaping @Sendable (GatewayConfig) -> Double?
) -> KeyRange {
    KeyRange(section: section, key: key, option: option, template: template, kind: kind, read: read)
}

/// A key whose whole value is the number.
private func key(
    _ section: KeyRange.Section, _ name: String, _ kind: KeyRange.Kind,
    _ read: @escaping @Sendable (GatewayConfig) -> Double?
) -> KeyRange {
    key(section, name, nil, "{}", kind, read)
}

extension ConfigExtremeValueTests {
    /// Every numeric, duration and size key and option, with its range as `etc/sluice.ini` states it.
    static let keys: [KeyRange] = server + upstream + healthAndOutlier + breakerAndAdaptive + route + routeTraffic
        + sections

    static let server: [KeyRange] = [
        key(.server, "listen", nil, "127.0.0.2:{}", .count(0...65535)) { n($0.server.listen.last?.port) },
        key(.server, "admin", nil, "127.0.0.3:{}", .count(0...65535)) { n($0.server.admin?.port) },
        key(.server, "workers", .count(1...256)) { n($0.server.workers) },
        key(.server, "max_client_connections", .count(0...1_000_000)) { n($0.server.maxClientConnections) },
        key(.server, "max_header_size", .size(1024...(1 << 20))) { n($0.server.maxHeaderSize) },
        key(.server, "max_headers", .count(1...10_000)) { n($0.server.maxHeaders) },
        key(.server, "max_body_size", .size(0...(1 << 40))) { n($0.server.maxBodySize) },
        key(.server, "request_buffer_size", .size(0...(16 << 20))) { n($0.server.requestBufferSize) },
        key(.server, "client_header_timeout", .duration(aboveZero...hour)) { d($0.server.clientHeaderTimeout) },
        key(.server, "client_body_timeout", .duration(aboveZero...hour)) { d($0.server.clientBodyTimeout) },
        key(.server, "request_timeout", .duration(.zero...day)) { d($0.server.requestTimeout) },
        key(.server, "keepalive_timeout", .duration(.zero...day)) { d($0.server.keepaliveTimeout) },
        key(.server, "drain_timeout", .duration(.zero...day)) { d($0.server.drainTimeout) },
        key(.server, "resolver_timeout", .duration(.milliseconds(100)...Duration.seconds(30))) {
            d($0.server.resolverTimeout)
        },
        key(.server, "h2_max_concurrent_streams", .count(1...10_000)) { n($0.server.http2.maxConcurrentStreams) },
        key(.server, "h2_initial_window_size", .size(1024...(16 << 20))) { n($0.server.http2.initialWindowSize) },
        key(.server, "h2_connection_window_size", .size(65_535...(64 << 20))) {
            n($0.server.http2.connectionWindowSize)
        },
        key(.server, "h2_max_header_list_size", .size(1024...(1 << 20))) { n($0.server.http2.maxHeaderListSize) },
    ]

    static let upstream: [KeyRange] = [
        key(.upstream, "server", nil, "10.0.0.2:{}", .count(1...65535)) { n($0.upstreams.first?.servers.last?.port) },
        key(.upstream, "server", "weight", "10.0.0.2:80 weight={}", .count(1...1000)) {
            n($0.upstreams.first?.servers.last?.weight)
        },
        key(.upstream, "server", "max_conns", "10.0.0.2:80 max_conns={}", .count(1...100_000)) {
            n($0.upstreams.first?.servers.last?.maxConnections)
        },
        key(.upstream, "keepalive", .count(0...100_000)) { n($0.upstreams.first?.keepalive) },
        key(.upstream, "keepalive_timeout", .duration(.zero...day)) { d($0.upstreams.first?.keepaliveTimeout) },
        key(.upstream, "keepalive_requests", .count(1...1_000_000_000)) { n($0.upstreams.first?.keepaliveRequests) },
        key(.upstream, "max_connections", .count(1...100_000)) { n($0.upstreams.first?.maxConnections) },
        key(.upstream, "queue", .count(0...1_000_000)) { n($0.upstreams.first?.queue) },
        key(.upstream, "queue_timeout", .duration(.zero...day)) { d($0.upstreams.first?.queueTimeout) },
        key(.upstream, "connect_timeout", .duration(aboveZero...day)) { d($0.upstreams.first?.connectTimeout) },
        key(.upstream, "max_fails", .count(0...1000)) { n($0.upstreams.first?.maxFails) },
        key(.upstream, "fail_timeout", .duration(aboveZero...day)) { d($0.upstreams.first?.failTimeout) },
        key(.upstream, "zone_min_size", .count(0...10_000)) { n($0.upstreams.first?.zoneMinSize) },
        key(.upstream, "panic", .share(positive: false)) { $0.upstreams.first?.panicThreshold },
        key(.upstream, "slow_start", .duration(.zero...day)) { d($0.upstreams.first?.slowStart) },
        key(.upstream, "resolve_interval", .duration(.seconds(1)...day)) { d($0.upstreams.first?.resolveInterval) },
        key(.upstream, "retry_budget", .share(positive: false)) { $0.upstreams.first?.retryBudget },
        key(.upstream, "retry_budget", "min", "20% min={}", .count(0...10_000)) {
            n($0.upstreams.first?.retryBudgetMinimum)
        },
        key(.upstream, "max_requests", .count(1...10_000_000)) { n($0.upstreams.first?.maxRequests) },
        key(.upstream, "max_pending", .count(0...10_000_000)) { n($0.upstreams.first?.maxPending) },
        key(.upstream, "degrade", "recovery", "error_ratio=50% recovery={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.degrade.first?.recovery)
        },
        key(.upstream, "degrade", "window", "error_count=5 window={}", .duration(.milliseconds(100)...day)) {
            d($0.upstreams.first?.degrade.first?.window)
        },
    ]

    static let healthAndOutlier: [KeyRange] = [
        key(.upstream, "health_check", "interval", "GET /h interval={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.healthCheck?.interval)
        },
        key(.upstream, "health_check", "timeout", "GET /h timeout={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.healthCheck?.timeout)
        },
        key(.upstream, "health_check", "rise", "GET /h rise={}", .count(1...100)) {
            n($0.upstreams.first?.healthCheck?.rise)
        },
        key(.upstream, "health_check", "fall", "GET /h fall={}", .count(1...100)) {
            n($0.upstreams.first?.healthCheck?.fall)
        },
        key(.upstream, "health_check", "expect", "GET /h expect={}", .count(100...599)) {
            n($0.upstreams.first?.healthCheck?.expect.first?.lowerBound)
        },
        key(.upstream, "health_check", "expect", "GET /h expect=100-{}", .count(100...599)) {
            n($0.upstreams.first?.healthCheck?.expect.first?.upperBound)
        },
        key(.upstream, "outlier", "consecutive_5xx", "consecutive_5xx={}", .count(0...1000)) {
            n($0.upstreams.first?.outlier?.consecutive5xx)
        },
        key(.upstream, "outlier", "consecutive_gateway_failure", "consecutive_gateway_failure={}", .count(0...1000)) {
            n($0.upstreams.first?.outlier?.consecutiveGatewayFailure)
        },
        key(.upstream, "outlier", "ejection", "ejection={} max_ejection=1d", .duration(aboveZero...day)) {
            d($0.upstreams.first?.outlier?.ejection)
        },
        key(.upstream, "outlier", "max_ejection", "ejection=1ns max_ejection={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.outlier?.maxEjection)
        },
        key(.upstream, "outlier", "max_ejected", "max_ejected={}", .share(positive: false)) {
            $0.upstreams.first?.outlier?.maxEjectedPercent
        },
        key(.upstream, "outlier", "interval", "interval={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.outlier?.interval)
        },
    ]

    static let breakerAndAdaptive: [KeyRange] = [
        key(.upstream, "circuit_breaker", "failure_rate", "failure_rate={}", .share(positive: true)) {
            $0.upstreams.first?.circuitBreaker?.failureRate
        },
        key(.upstream, "circuit_breaker", "slow_call", "slow_call={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.circuitBreaker?.slowCall)
        },
        key(.upstream, "circuit_breaker", "slow_rate", "slow_rate={}", .share(positive: true)) {
            $0.upstreams.first?.circuitBreaker?.slowRate
        },
        // `window` is a number of calls or a duration: either, in its own range, is in range here.
        key(.upstream, "circuit_breaker", "window", "window={} min_calls=1", .count(1...100_000)) {
            switch $0.upstreams.first?.circuitBreaker?.window {
            case .calls(let calls): Double(calls)
            case .time(let span): (Duration.seconds(1)...day).contains(span) ? 1 : -1
            case nil: nil
            }
        },
        key(.upstream, "circuit_breaker", "window", "window={} min_calls=1", .duration(.seconds(1)...day)) {
            switch $0.upstreams.first?.circuitBreaker?.window {
            case .time(let span): seconds(span)
            case .calls(let calls): (1...100_000).contains(calls) ? 1 : -1
            case nil: nil
            }
        },
        key(.upstream, "circuit_breaker", "min_calls", "window=100000 min_calls={}", .count(1...100_000)) {
            n($0.upstreams.first?.circuitBreaker?.minCalls)
        },
        key(.upstream, "circuit_breaker", "open", "open={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.circuitBreaker?.open)
        },
        key(.upstream, "circuit_breaker", "half_open", "half_open={}", .count(1...1000)) {
            n($0.upstreams.first?.circuitBreaker?.halfOpen)
        },
        key(.upstream, "circuit_breaker", "half_open_timeout", "half_open_timeout={}", .duration(aboveZero...day)) {
            d($0.upstreams.first?.circuitBreaker?.halfOpenTimeout)
        },
        key(.upstream, "adaptive_concurrency", "min", "min={} max=1000000", .count(1...100_000)) {
            n($0.upstreams.first?.adaptiveConcurrency?.minLimit)
        },
        key(.upstream, "adaptive_concurrency", "max", "max={}", .count(1...1_000_000)) {
            n($0.upstreams.first?.adaptiveConcurrency?.maxLimit)
        },
        key(.upstream, "adaptive_concurrency", "initial", "min=1 max=1000000 initial={}", .count(1...1_000_000)) {
            n($0.upstreams.first?.adaptiveConcurrency?.initialLimit)
        },
        key(
            .upstream, "adaptive_concurrency", "tolerance", "tolerance={}",
            .listed(accept: ["1", "10", "1.25"], reject: ["10.000000001", "0.999999999", "1e1", "-2"], range: 1...10)
        ) { $0.upstreams.first?.adaptiveConcurrency?.tolerance },
        key(.route, "circuit_breaker", "open", "open={}", .duration(aboveZero...day)) {
            d($0.routes.first?.circuitBreaker?.open)
        },
        key(.route, "adaptive_concurrency", "max", "max={}", .count(1...1_000_000)) {
            n($0.routes.first?.adaptiveConcurrency?.maxLimit)
        },
    ]

    static let route: [KeyRange] = [
        key(.route, "timeout", .duration(aboveZero...day)) { d($0.routes.first?.timeout) },
        key(.route, "idle_timeout", .duration(aboveZero...day)) { d($0.routes.first?.idleTimeout) },
        key(.route, "tunnel_timeout", .duration(aboveZero...day)) { d($0.routes.first?.tunnelTimeout) },
        key(.route, "auth_cache", nil, "{}\nauth = forward http://127.0.0.1:9000/check", .duration(.zero...hour)) {
            d($0.routes.first?.filters.auth?.cacheFor)
        },
        key(.route, "auth_cache_size", nil, "{}\nauth = forward http://127.0.0.1:9000/check", .count(0...10_000_000)) {
            n($0.routes.first?.filters.auth?.cacheSize)
        },
        key(.route, "forward_auth_timeout", nil, "{}\nauth = forward http://127.0.0.1:9000/check",
            .duration(.milliseconds(1)...Duration.seconds(60))) {
            guard case .forward(let forward) = $0.routes.first?.filters.auth?.kind else { return nil }
            return d(forward.timeout)
        },
        key(.route, "jwt_leeway", nil, "{}\nauth = jwt\njwt_keys = /etc/passwd", .duration(.zero...Duration.seconds(600))) {
            guard case .jwt(let jwt) = $0.routes.first?.filters.auth?.kind else { return nil }
            return d(jwt.leeway)
        },
        key(.route, "mirror", "percent", "users percent={}", .share(positive: false)) {
            $0.routes.first?.filters.mirror?.share
        },
        key(.route, "mirror", "max_body", "users max_body={}", .size(0...(16 << 20))) {
            n($0.routes.first?.filters.mirror?.maxBody)
        },
        key(.route, "mirror", "max_in_flight", "users max_in_flight={}", .count(1...100_000)) {
            n($0.routes.first?.filters.mirror?.maxInFlight)
        },
        key(.route, "gzip_min_length", nil, "{}\ngzip = on", .size(0...(1 << 30))) {
            n($0.routes.first?.compression?.minLength)
        },
        key(.route, "retries", .count(0...10)) { n($0.routes.first?.retries) },
        key(.route, "retries", "per_try_timeout", "1 per_try_timeout={}", .duration(aboveZero...day)) {
            d($0.routes.first?.retryPolicy.perTryTimeout)
        },
        key(.route, "retries", "backoff", "1 backoff={}", .duration(.zero...hour)) {
            d($0.routes.first?.retryPolicy.backoff)
        },
        key(.route, "retries", "on", "1 on={}", .count(500...599)) {
            guard case .status(let code) = $0.routes.first?.retryPolicy.on.first else { return nil }
            return Double(code)
        },
        key(
            .route, "upstream", nil, "users {}",
            .listed(accept: ["100%", "100.0%"], reject: ["0%", "50%", "100.000000001%", "-1%"], range: 1...1)
        ) { $0.routes.first?.splits.first?.weight },
        key(.route, "fallback", "status", "status={}", .count(200...599)) { n($0.routes.first?.fallback?.status) },
        key(.route, "fault", "delay", "delay={}", .duration(aboveZero...hour)) { d($0.routes.first?.fault?.delay) },
        key(.route, "fault", "abort", "abort={}", .count(200...599)) { n($0.routes.first?.fault?.abortStatus) },
        key(.route, "fault", "percent", "delay=1s percent={}", .share(positive: false)) {
            $0.routes.first?.fault?.delayFraction
        },
    ]

    static let routeTraffic: [KeyRange] = [
        key(.route, "rate_limit", nil, "{}/s", .count(1...100_000_000)) { n($0.routes.first?.rateLimits.first?.count) },
        key(.route, "rate_limit", nil, "1/{}", .duration(.milliseconds(1)...day)) {
            d($0.routes.first?.rateLimits.first?.period)
        },
        key(.route, "rate_limit", "burst", "1/s burst={}", .count(1...100_000_000)) {
            n($0.routes.first?.rateLimits.first?.burst)
        },
        key(.route, "rate_limit", "warmup", "1/s warmup={}", .duration(aboveZero...hour)) {
            d($0.routes.first?.rateLimits.first?.warmup)
        },
        key(.route, "rate_limit", "pace", "1/s pace={}", .duration(aboveZero...hour)) {
            d($0.routes.first?.rateLimits.first?.pace)
        },
        key(.route, "rate_limit", "max_keys", "1/s key=client_ip max_keys={}", .count(64...100_000_000)) {
            n($0.routes.first?.rateLimits.first?.maxKeys)
        },
        key(.route, "degrade", "slow", "slow={}", .duration(aboveZero...day)) {
            guard case .slowRatio(let slow, _) = $0.routes.first?.degrade.first?.trigger else { return nil }
            return seconds(slow)
        },
        key(.route, "degrade", "ratio", "slow=1s ratio={}", .share(positive: false)) {
            guard case .slowRatio(_, let ratio) = $0.routes.first?.degrade.first?.trigger else { return nil }
            return ratio
        },
        key(.route, "degrade", "error_ratio", "error_ratio={}", .share(positive: false)) {
            guard case .errorRatio(let ratio) = $0.routes.first?.degrade.first?.trigger else { return nil }
            return ratio
        },
        key(.route, "degrade", "error_count", "error_count={}", .count(1...1_000_000)) {
            guard case .errorCount(let count) = $0.routes.first?.degrade.first?.trigger else { return nil }
            return Double(count)
        },
        key(.route, "degrade", "window", "error_ratio=50% window={}", .duration(.milliseconds(100)...day)) {
            d($0.routes.first?.degrade.first?.window)
        },
        key(.route, "degrade", "min_requests", "error_ratio=50% min_requests={}", .count(1...1_000_000)) {
            n($0.routes.first?.degrade.first?.minRequests)
        },
        key(.route, "degrade", "recovery", "error_ratio=50% recovery={}", .duration(aboveZero...day)) {
            d($0.routes.first?.degrade.first?.recovery)
        },
    ]

    static let sections: [KeyRange] = [
        key(.protection, "max_inflight", .count(1...10_000_000)) { n($0.protection?.maxInflight) },
        key(.protection, "recovery", .duration(.zero...day)) { d($0.protection?.recovery) },
        key(.ratelimit, "backend", nil, "redis://127.0.0.1:{}", .count(1...65535)) { n($0.globalRateLimit?.port) },
        key(.ratelimit, "batch", .count(1...10_000)) { n($0.globalRateLimit?.batch) },
        key(.ratelimit, "timeout", .duration(aboveZero...hour)) { d($0.globalRateLimit?.timeout) },
    ]
}
