public import SluiceTraffic

/// `rate_limit = 1000/s burst=200 key=client_ip mode=shadow warmup=10s pace=500ms`, repeatable on a route: every
/// line is its own token bucket and a request must pass them all (per key and per route limits stack).
public struct RateLimitConfig: Sendable, Hashable {
    /// What one bucket is kept for.
    public enum Key: Sendable, Hashable, CustomStringConvertible {
        /// One bucket for the whole route.
        case route
        /// One bucket per client address (`X-Forwarded-For` counts only from `trusted_proxies`).
        case clientIP
        /// One bucket per value of this request header; requests without it share one bucket.
        case header(String)

        public var description: String {
            switch self {
            case .route: "route"
            case .clientIP: "client_ip"
            case .header(let name): "header:\(name)"
            }
        }
    }

    /// Where the bucket lives.
    public enum Scope: String, Sendable, Hashable {
        /// In this gateway process, across all its event loops.
        case local
        /// Shared by every gateway through `[ratelimit] backend` (Redis).
        case global
    }

    /// Tokens per `period`.
    public var count: Int
    public var period: Duration
    /// The bucket's size: how many requests may come at once after a quiet spell. Defaults to `count`.
    public var burst: Int
    public var key: Key
    /// `mode = shadow`: count and log what would be limited, but let it through.
    public var shadow: Bool
    /// A cold bucket starts at a third of the rate and ramps up over this (Sentinel's warm-up).
    public var warmup: Duration?
    /// Hold excess requests, evenly spaced, while the wait stays under this (nginx `limit_req` without `nodelay`).
    public var pace: Duration?
    /// The most keys remembered at once (idle keys are forgotten first).
    public var maxKeys: Int
    /// Nil: global for per-key limits when `[ratelimit] backend` is set, local otherwise.
    public var scope: Scope?
    /// Where the line was written, for messages.
    public var line: Int

    public static let defaultMaxKeys = 100_000

    public init(
        count: Int, period: Duration = .seconds(1), burst: Int? = nil, key: Key = .route, shadow: Bool = false,
        warmup: Duration? = nil, pace: Duration? = nil, maxKeys: Int = RateLimitConfig.defaultMaxKeys,
        scope: Scope? = nil, line: Int = 0
    ) {
        self.count = count
        self.period = period
        self.burst = burst ?? count
        self.key = key
        self.shadow = shadow
        self.warmup = warmup
        self.pace = pace
        self.maxKeys = maxKeys
        self.scope = scope
        self.line = line
    }

    /// `1000/s`, `60/m`, `5/100ms` then options.
    public static func parse(_ text: String) throws(ValueError) -> RateLimitConfig {
        let words = ValueParsing.options(text)
        guard let rate = words.first, rate.name == nil else {
            throw ValueError(expected: "a rate like 1000/s, 60/m or 10/100ms, then options", got: text)
        }
        let (count, period) = try parseRate(rate.value)
        var config = RateLimitConfig(count: count, period: period)
        var burst: Int?
        let known = ["burst", "key", "mode", "warmup", "pace", "max_keys", "scope"]
        for word in words.dropFirst() {
            guard let name = word.name else {
                throw ValueError(expected: "options like burst=200 key=client_ip", got: word.value)
            }
            switch name {
            case "burst": burst = try ValueParsing.integer(word.value, in: 1...100_000_000)
            case "key": config.key = try parseKey(word.value)
            case "mode":
                config.shadow = try ValueParsing.choice(word.value, [("enforce", false), ("shadow", true)])
            case "warmup": config.warmup = try positiveDuration(word.value)
            case "pace": config.pace = try positiveDuration(word.value)
            case "max_keys": config.maxKeys = try ValueParsing.integer(word.value, in: 64...100_000_000)
            case "scope": config.scope = try ValueParsing.choice(word.value, [("local", .local), ("global", .global)])
            default: throw unknownOption(name, known)
            }
        }
        config.burst = burst ?? count
        // Bounds the token bucket's arithmetic relies on (and no real limit comes near): a full bucket refills
        // within ten years, and neither warm-up nor pacing lasts more than an hour.
        let refillSeconds = Double(config.burst) * Double(period.components.seconds) / Double(count)
        guard refillSeconds <= 315_360_000 else {
            throw ValueError(expected: "a burst the rate refills within ten years", got: text)
        }
        if let warmup = config.warmup, warmup > .seconds(3600) {
            throw ValueError(expected: "warmup of at most 1h", got: ValueParsing.text(warmup))
        }
        if let pace = config.pace, pace > .seconds(3600) {
            throw ValueError(expected: "pace of at most 1h", got: ValueParsing.text(pace))
        }
        if config.scope == .global && config.key == .route {
            throw ValueError(expected: "scope=global only with a per-key limit (key=client_ip or key=header:NAME)", got: text)
        }
        if config.scope == .global && (config.warmup != nil || config.pace != nil) {
            throw ValueError(expected: "warmup and pace only on local limits", got: text)
        }
        return config
    }

    /// `1000/s` → (1000, 1 s); `10/100ms` → (10, 100 ms); `60/m`.
    static func parseRate(_ text: String) throws(ValueError) -> (Int, Duration) {
        let error = ValueError(expected: "a rate like 1000/s, 60/m or 10/100ms", got: text)
        let parts = text.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let count = Int(parts[0]), count >= 1, count <= 100_000_000 else { throw error }
        let unit = parts[1]
        let period: Duration
        switch unit {
        case "s": period = .seconds(1)
        case "m": period = .seconds(60)
        case "h": period = .seconds(3600)
        default:
            guard let parsed = try? ValueParsing.duration(unit), parsed > .zero else { throw error }
            period = parsed
        }
        return (count, period)
    }

    static func parseKey(_ text: String) throws(ValueError) -> Key {
        switch text {
        case "route": return .route
        case "client_ip": return .clientIP
        default:
            if text.hasPrefix("header:") {
                let name = text.dropFirst("header:".count)
                if !name.isEmpty, name.utf8.allSatisfy(ConfigValidator.isTokenByte) { return .header(name.lowercased()) }
            }
            throw ValueError(expected: "key=route, key=client_ip or key=header:NAME", got: text)
        }
    }
}

/// `circuit_breaker = failure_rate=50% slow_call=1s slow_rate=80% window=100 min_calls=20 open=30s half_open=5`
/// on an upstream (or a route): resilience4j's breaker. `window` is a number of calls or a duration.
public struct CircuitBreakerConfig: Sendable, Hashable {
    public enum Window: Sendable, Hashable {
        case calls(Int)
        case time(Duration)
    }

    public var window: Window = .calls(100)
    public var minCalls = 20
    /// 0...1.
    public var failureRate = 0.5
    public var slowCall: Duration?
    /// 0...1.
    public var slowRate = 1.0
    public var open: Duration = .seconds(30)
    public var halfOpen = 5
    public var halfOpenTimeout: Duration = .seconds(10)

    public init() {}

    public static func parse(_ text: String) throws(ValueError) -> CircuitBreakerConfig {
        var config = CircuitBreakerConfig()
        let known = [
            "failure_rate", "slow_call", "slow_rate", "window", "min_calls", "open", "half_open", "half_open_timeout",
        ]
        for word in ValueParsing.options(text) {
            guard let name = word.name else {
                if word.value == "on" { continue }
                throw ValueError(expected: "options like failure_rate=50% window=100 open=30s", got: word.value)
            }
            switch name {
            case "failure_rate": config.failureRate = try ValueParsing.percentage(word.value)
            case "slow_call": config.slowCall = try positiveDuration(word.value)
            case "slow_rate": config.slowRate = try ValueParsing.percentage(word.value)
            case "window":
                if let calls = try? ValueParsing.integer(word.value, in: 1...100_000) {
                    config.window = .calls(calls)
                } else if let duration = try? positiveDuration(word.value) {
                    config.window = .time(duration)
                } else {
                    throw ValueError(expected: "window=N calls (like 100) or a duration (like 10s)", got: word.value)
                }
            case "min_calls": config.minCalls = try ValueParsing.integer(word.value, in: 1...100_000)
            case "open": config.open = try positiveDuration(word.value)
            case "half_open": config.halfOpen = try ValueParsing.integer(word.value, in: 1...1000)
            case "half_open_timeout": config.halfOpenTimeout = try positiveDuration(word.value)
            default: throw unknownOption(name, known)
            }
        }
        if case .calls(let calls) = config.window, config.minCalls > calls {
            throw ValueError(expected: "min_calls no larger than the window's calls", got: text)
        }
        if case .time(let span) = config.window, span < .seconds(1) {
            throw ValueError(expected: "a time window of at least 1s", got: text)
        }
        guard config.failureRate > 0, config.slowRate > 0 else {
            throw ValueError(expected: "failure_rate and slow_rate above 0%", got: text)
        }
        return config
    }
}

/// `adaptive_concurrency = on` or `adaptive_concurrency = min=5 max=500 initial=20 tolerance=2`: a gradient limiter
/// (Envoy adaptive concurrency) on a route or upstream.
public struct AdaptiveConcurrencyConfig: Sendable, Hashable {
    public var minLimit = 3
    public var maxLimit = 1000
    public var initialLimit = 20
    /// How far the recent RTT may rise over the minimum before the limit comes down (1.25 = a quarter more).
    public var tolerance = 1.25

    public init() {}

    /// Nil for `off`.
    public static func parse(_ text: String) throws(ValueError) -> AdaptiveConcurrencyConfig? {
        if let flag = try? ValueParsing.boolean(text) { return flag ? AdaptiveConcurrencyConfig() : nil }
        var config = AdaptiveConcurrencyConfig()
        var givenMin: Int?
        var givenInitial: Int?
        for word in ValueParsing.options(text) {
            guard let name = word.name else {
                if word.value == "on" { continue }
                throw ValueError(expected: "on, off or options like min=5 max=500", got: word.value)
            }
            switch name {
            case "min": givenMin = try ValueParsing.integer(word.value, in: 1...100_000)
            case "max": config.maxLimit = try ValueParsing.integer(word.value, in: 1...1_000_000)
            case "initial": givenInitial = try ValueParsing.integer(word.value, in: 1...1_000_000)
            case "tolerance":
                guard let value = Double(word.value), value >= 1, value <= 10 else {
                    throw ValueError(expected: "tolerance from 1 to 10, like 1.5", got: word.value)
                }
                config.tolerance = value
            default: throw unknownOption(name, ["min", "max", "initial", "tolerance"])
            }
        }
        // Defaults give way to what was set: max=2 alone means min 2 and initial 2.
        config.minLimit = givenMin ?? min(config.minLimit, config.maxLimit)
        config.initialLimit = givenInitial ?? max(config.minLimit, min(config.initialLimit, config.maxLimit))
        guard config.minLimit <= config.initialLimit, config.initialLimit <= config.maxLimit else {
            throw ValueError(expected: "min ≤ initial ≤ max", got: text)
        }
        return config
    }
}

/// `degrade = slow=500ms ratio=50% window=10s min_requests=20 recovery=30s`,
/// `degrade = error_ratio=50% …` or `degrade = error_count=100 window=60s …`: Sentinel's degrade rules.
public struct DegradeConfig: Sendable, Hashable {
    public enum Trigger: Sendable, Hashable {
        /// More than `ratio` (0...1) of requests slower than the duration.
        case slowRatio(Duration, ratio: Double)
        /// More than this share (0...1) of requests failed (5xx or no answer).
        case errorRatio(Double)
        /// More than this many failures in the window (Sentinel: `error_count=100` trips at 101).
        case errorCount(Int)
    }

    public var trigger: Trigger
    public var window: Duration = .seconds(10)
    public var minRequests = 20
    public var recovery: Duration = .seconds(30)
    /// On an upstream: the routes it degrades when it fires, by priority: `optional` (the default) degrades only
    /// optional routes, `normal` also normal ones, `core` every route. A route's own rules degrade that route.
    public var shedUpTo: RoutePriority = .optional

    public init(trigger: Trigger) {
        self.trigger = trigger
    }

    public static func parse(_ text: String) throws(ValueError) -> DegradeConfig {
        var slow: Duration?
        var ratio: Double?
        var trigger: Trigger?
        var window: Duration?
        var minRequests: Int?
        var recovery: Duration?
        var shed: RoutePriority?
        let known = ["slow", "ratio", "error_ratio", "error_count", "window", "min_requests", "recovery", "shed"]
        for word in ValueParsing.options(text) {
            guard let name = word.name else {
                throw ValueError(expected: "options like error_ratio=50% window=10s recovery=30s", got: word.value)
            }
            switch name {
            case "slow": slow = try positiveDuration(word.value)
            case "ratio": ratio = try ValueParsing.percentage(word.value)
            case "error_ratio": trigger = .errorRatio(try ValueParsing.percentage(word.value))
            case "error_count": trigger = .errorCount(try ValueParsing.integer(word.value, in: 1...1_000_000))
            case "window": window = try positiveDuration(word.value)
            case "min_requests": minRequests = try ValueParsing.integer(word.value, in: 1...1_000_000)
            case "recovery": recovery = try positiveDuration(word.value)
            case "shed":
                guard let priority = RoutePriority(text: word.value) else {
                    throw ValueError(expected: "shed=optional, shed=normal or shed=core", got: word.value)
                }
                shed = priority
            default: throw unknownOption(name, known)
            }
        }
        if let slow {
            guard trigger == nil else {
                throw ValueError(expected: "one trigger per degrade line: slow=, error_ratio= or error_count=", got: text)
            }
            trigger = .slowRatio(slow, ratio: ratio ?? 0.5)
        } else if ratio != nil {
            throw ValueError(expected: "ratio= together with slow=DURATION", got: text)
        }
        guard let trigger else {
            throw ValueError(expected: "a trigger: slow=500ms ratio=50%, error_ratio=50% or error_count=100", got: text)
        }
        if let window, window < .milliseconds(100) {
            throw ValueError(expected: "a window of at least 100ms", got: ValueParsing.text(window))
        }
        var config = DegradeConfig(trigger: trigger)
        if let window { config.window = window }
        if let minRequests { config.minRequests = minRequests }
        if let recovery { config.recovery = recovery }
        if let shed { config.shedUpTo = shed }
        return config
    }
}

/// `fallback = status=200 type=application/json body={"items":[]}` or `… file=/etc/sluice/feed.json`: what a
/// degraded, shed or breaker-rejected route answers in place of 503. `body=` takes the rest of the line.
public struct FallbackConfig: Sendable, Hashable {
    public var status: Int
    public var contentType: String
    public var body: [UInt8]
    /// Where the body was read from, if from a file.
    public var file: String?

    public init(status: Int = 503, contentType: String = "text/plain; charset=utf-8", body: [UInt8] = [], file: String? = nil) {
        self.status = status
        self.contentType = contentType
        self.body = body
        self.file = file
    }

    /// Where ` body=` (or a leading `body=`) starts.
    static func bodyOptionStart(_ text: Substring) -> Substring.Index? {
        var index = text.startIndex
        while index < text.endIndex {
            if text[index...].hasPrefix("body="),
                index == text.startIndex || text[text.index(before: index)] == " "
                    || text[text.index(before: index)] == "\t"
            {
                return index
            }
            index = text.index(after: index)
        }
        return nil
    }

    /// Reads the options; a `file=` is read by the validator, which knows how to report it.
    public static func parse(_ text: String) throws(ValueError) -> FallbackConfig {
        var config = FallbackConfig()
        var rest = text.trimmedSpaces
        var bodyText: Substring?
        if let start = Self.bodyOptionStart(rest) {
            bodyText = rest[rest.index(start, offsetBy: 5)...]
            rest = rest[..<start]
        }
        for word in ValueParsing.options(rest) {
            guard let name = word.name else {
                throw ValueError(expected: "options like status=503 type=application/json body=...", got: word.value)
            }
            switch name {
            case "status": config.status = try ValueParsing.integer(word.value, in: 200...599)
            case "type":
                guard !word.value.isEmpty, word.value.contains("/") else {
                    throw ValueError(expected: "a content type like application/json", got: word.value)
                }
                config.contentType = word.value
            case "file": config.file = word.value
            default: throw unknownOption(name, ["status", "type", "file", "body"])
            }
        }
        if let bodyText {
            guard config.file == nil else { throw ValueError(expected: "either body= or file=, not both", got: text) }
            config.body = Array(bodyText.utf8)
        }
        return config
    }
}

/// `fault = delay=100ms percent=10` and `fault = abort=503 percent=5` (Envoy's fault filter), for drills.
public struct FaultConfig: Sendable, Hashable {
    public var delay: Duration?
    /// 0...1.
    public var delayFraction = 0.0
    public var abortStatus: Int?
    /// 0...1.
    public var abortFraction = 0.0

    public init() {}

    /// Adds one `fault` line to `self`.
    public mutating func add(_ text: String) throws(ValueError) {
        var delay: Duration?
        var abort: Int?
        var fraction = 1.0
        for word in ValueParsing.options(text) {
            guard let name = word.name else {
                throw ValueError(expected: "delay=100ms percent=10 or abort=503 percent=5", got: word.value)
            }
            switch name {
            case "delay": delay = try positiveDuration(word.value)
            case "abort": abort = try ValueParsing.integer(word.value, in: 200...599)
            case "percent":
                let value = word.value.hasSuffix("%") ? word.value : word.value + "%"
                fraction = try ValueParsing.percentage(value)
            default: throw unknownOption(name, ["delay", "abort", "percent"])
            }
        }
        switch (delay, abort) {
        case (let delay?, nil):
            guard self.delay == nil else { throw ValueError(expected: "one delay line per route", got: text) }
            self.delay = delay
            delayFraction = fraction
        case (nil, let abort?):
            guard abortStatus == nil else { throw ValueError(expected: "one abort line per route", got: text) }
            abortStatus = abort
            abortFraction = fraction
        default:
            throw ValueError(expected: "either delay=DURATION or abort=STATUS on a fault line", got: text)
        }
    }
}

/// `[protection]`: system-level load shedding (Sentinel's system rule): optional routes first, then normal, core last.
public struct ProtectionConfig: Sendable, Hashable {
    /// Shed when in-flight requests exceed what measured throughput × minimum latency can carry.
    public var adaptive = true
    /// A hard cap on requests in flight in the gateway; above it even core routes are shed.
    public var maxInflight: Int?
    /// Once shedding starts at a level, it stays on at least this long.
    public var recovery: Duration = .seconds(1)
    /// The `[protection]` header.
    public var location = SourceLocation(file: "<memory>", line: 0)

    public init() {}
}

/// `[ratelimit]`: where global (multi-gateway) rate limits are kept.
public struct GlobalRateLimitConfig: Sendable, Hashable {
    /// `backend = redis://HOST:PORT`.
    public var host: String
    public var port: Int
    /// Tokens taken from Redis at a time per key.
    public var batch = 10
    /// How long a Redis call may take before the request goes through (fail open).
    public var timeout: Duration = .milliseconds(50)
    public var location = SourceLocation(file: "<memory>", line: 0)

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// `redis://127.0.0.1:6379`.
    static func parseBackend(_ text: String) throws(ValueError) -> (String, Int) {
        let error = ValueError(expected: "redis://HOST:PORT, like redis://127.0.0.1:6379", got: text)
        guard text.hasPrefix("redis://") else { throw error }
        let address = text.dropFirst("redis://".count)
        guard let parsed = try? HostPort.parse(address, defaultHost: nil, ports: 1...65535, expected: "") else {
            if HostPort.isHostName(address) { return (String(address), 6379) }
            throw error
        }
        return (parsed.host, parsed.port)
    }
}

private func positiveDuration(_ text: String) throws(ValueError) -> Duration {
    let duration = try ValueParsing.duration(text)
    guard duration > .zero else { throw ValueError(expected: "a duration above 0", got: text) }
    return duration
}

private func unknownOption(_ name: String, _ known: [String]) -> ValueError {
    var expected = "one of the options " + known.joined(separator: ", ")
    if let close = Suggestion.closest(to: name, in: known) { expected = "'\(close)'" }
    return ValueError(expected: expected, got: name)
}
