import SluiceTraffic

extension ConfigValidator {
    /// The traffic-control keys of a `[route NAME]`: rate limits, priority, fallback, degrade rules, breaker,
    /// adaptive concurrency and faults.
    mutating func readRouteTraffic(_ reader: SectionReader, into config: inout RouteConfig) {
        config.rateLimits = reader.values("rate_limit", errors: &errors) { entry throws(ValueError) in
            var limit = try RateLimitConfig.parse(entry.value)
            limit.line = entry.location.line
            return limit
        }
        config.priority = reader.value("priority", default: RoutePriority.normal, errors: &errors) {
            text throws(ValueError) in
            guard let priority = RoutePriority(text: text) else {
                throw ValueError(expected: "core, normal or optional", got: text)
            }
            return priority
        }
        if let entry = reader.entry("fallback") {
            do throws(ValueError) {
                var fallback = try FallbackConfig.parse(entry.value)
                if let file = fallback.file {
                    // Like `include`: relative to the folder of the file that names it.
                    let path = FileSystem.path(file, relativeToFolderOf: entry.location.file)
                    do {
                        fallback.body = Array(try FileSystem.readText(path).utf8)
                    } catch {
                        throw ValueError(expected: "a readable file for file= (\(error.message))", got: file)
                    }
                }
                config.fallback = fallback
            } catch {
                errors.append(reader.error(entry, error.description))
            }
        }
        config.degrade = reader.values("degrade", errors: &errors) { entry throws(ValueError) in
            try DegradeConfig.parse(entry.value)
        }
        config.circuitBreaker = reader.value("circuit_breaker", default: nil, errors: &errors) {
            text throws(ValueError) in try CircuitBreakerConfig.parse(text)
        }
        config.adaptiveConcurrency = reader.value("adaptive_concurrency", default: nil, errors: &errors) {
            text throws(ValueError) in try AdaptiveConcurrencyConfig.parse(text)
        }
        var fault: FaultConfig?
        for entry in reader.entries("fault") {
            do {
                var merged = fault ?? FaultConfig()
                try merged.add(entry.value)
                fault = merged
            } catch {
                errors.append(reader.error(entry, error.description))
            }
        }
        config.fault = fault
        config.faultHeader = reader.boolean("fault_header", default: false, errors: &errors)
    }

    /// The traffic-control keys of an `[upstream NAME]`.
    mutating func readUpstreamTraffic(_ reader: SectionReader, into config: inout UpstreamConfig) {
        config.circuitBreaker = reader.value("circuit_breaker", default: nil, errors: &errors) {
            text throws(ValueError) in try CircuitBreakerConfig.parse(text)
        }
        config.maxRequests = reader.value("max_requests", default: nil, errors: &errors) { text throws(ValueError) in
            try ValueParsing.integer(text, in: 1...10_000_000)
        }
        config.maxPending = reader.value("max_pending", default: nil, errors: &errors) { text throws(ValueError) in
            try ValueParsing.integer(text, in: 0...10_000_000)
        }
        config.adaptiveConcurrency = reader.value("adaptive_concurrency", default: nil, errors: &errors) {
            text throws(ValueError) in try AdaptiveConcurrencyConfig.parse(text)
        }
        config.degrade = reader.values("degrade", errors: &errors) { entry throws(ValueError) in
            try DegradeConfig.parse(entry.value)
        }
    }

    /// `trusted_proxies = 10.0.0.0/8, 127.0.0.1` lines in `[server]`.
    mutating func readTrustedProxies(_ reader: SectionReader) -> [CIDR] {
        var result: [CIDR] = []
        for entry in reader.entries("trusted_proxies") {
            for item in entry.value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }) {
                guard let cidr = CIDR(String(item)) else {
                    let error = ValueError(expected: "an address or CIDR like 10.0.0.0/8, 127.0.0.1 or ::1", got: item)
                    errors.append(reader.error(entry, error.description))
                    continue
                }
                if !result.contains(cidr) { result.append(cidr) }
            }
        }
        return result
    }

    /// `[protection]`, every such section merged.
    mutating func readProtection(_ sections: [INISection]) -> ProtectionConfig? {
        guard let first = sections.first else { return nil }
        let reader = SectionReader(
            kind: .protection, header: "[protection]", location: first.location, entries: sections.flatMap(\.entries),
            errors: &errors)
        var config = ProtectionConfig()
        config.adaptive = reader.boolean("adaptive", default: true, errors: &errors)
        config.maxInflight = reader.value("max_inflight", default: nil, errors: &errors) { text throws(ValueError) in
            try ValueParsing.integer(text, in: 1...10_000_000)
        }
        config.recovery = reader.duration("recovery", default: config.recovery, in: Bounds.upToDay, errors: &errors)
        config.location = first.location
        if !config.adaptive && config.maxInflight == nil {
            errors.append(
                ConfigError(
                    location: first.location, section: "[protection]",
                    message: "protects nothing; set adaptive = on or max_inflight = N"))
        }
        return config
    }

    /// `[ratelimit]`, every such section merged.
    mutating func readGlobalRateLimit(_ sections: [INISection]) -> GlobalRateLimitConfig? {
        guard let first = sections.first else { return nil }
        let reader = SectionReader(
            kind: .ratelimit, header: "[ratelimit]", location: first.location, entries: sections.flatMap(\.entries),
            errors: &errors)
        guard let entry = reader.required("backend", example: "redis://127.0.0.1:6379", errors: &errors) else {
            return nil
        }
        let backend: (String, Int)
        do {
            backend = try GlobalRateLimitConfig.parseBackend(entry.value)
        } catch {
            errors.append(reader.error(entry, error.description))
            return nil
        }
        var config = GlobalRateLimitConfig(host: backend.0, port: backend.1)
        config.batch = reader.integer("batch", default: config.batch, in: 1...10_000, errors: &errors)
        config.timeout = reader.duration("timeout", default: config.timeout, in: Bounds.positiveHour, errors: &errors)
        config.location = first.location
        return config
    }

    /// `scope=global` needs a `[ratelimit] backend`.
    mutating func checkGlobalScopes(_ routes: [ReadRoute], backend: GlobalRateLimitConfig?) {
        guard backend == nil else { return }
        for route in routes {
            for limit in route.config.rateLimits where limit.scope == .global {
                errors.append(
                    ConfigError(
                        location: SourceLocation(file: route.config.location.file, line: limit.line),
                        section: "[route \(route.config.name)]", key: "rate_limit",
                        message: "scope=global needs a [ratelimit] section with backend = redis://HOST:PORT"))
            }
        }
    }
}
