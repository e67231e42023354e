import SluiceTraffic

/// `rate_limit = 1000/s burst=200 key=client_ip mode=shadow warmup=10s pace=500ms`, repeatable on a route: every
/// line is its own token bucket and a request must pass them all (per key and per route limits stack).
/// Ranges: count and `burst` 1...10^8, the period 1ms...1d, `burst × period ÷ count` at most ten years, `warmup`
/// and `pace` above 0 and at most an hour, `max_keys` 64...10^8.
public struct RateLimitConfig: Sendable, Hashable {
    /// What one bucket is kept for.
    public enum Key: Sendable, Hashable, CustomStringConvertible {
        /// One bucket for the whole route.
        case route
        /// One bucket per client address (`X-Forwarded-For` counts only from `trusted_proxies`).
        case clientIP
        /// One bucket per value of this request header; requests without it share one bucket.
        case header(String)
        /// One bucket per authenticated caller (the route's `auth` identity); requests without one share a bucket.
        case identity

        public var description: String {
            switch self {
            case .identity: "identity"
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
            case "burst": burst = try word.integer(in: 1...100_000_000)
            case "key": config.key = try parseKey(word.value)
            case "mode":
                config.shadow = try ValueParsing.choice(word.value, [("enforce", false), ("shadow", true)])
            case "warmup": config.warmup = try word.duration(in: Bounds.positiveHour)
            case "pace": config.pace = try word.duration(in: Bounds.positiveHour)
            case "max_keys": config.maxKeys = try word.integer(in: 64...100_000_000)
            case "scope": config.scope = try ValueParsing.choice(word.value, [("local", .local), ("global", .global)])
            default: throw unknownOption(name, known)
            }
        }
        config.burst = burst ?? count
        // The bound the token bucket's arithmetic relies on (`RateLimitPolicy`: its horizon within 2^61 ns, about 73
        // years), and no real limit comes near: a full bucket refills within ten years (exactly, in nanoseconds:
        // at most 10^8 × 1 day, no overflow). Warm-up and pacing are at most an hour each.
        let refill = Int128(config.burst) * Int128(period.wholeNanoseconds) / Int128(count)
        guard refill <= Int128(Self.maxRefill.wholeNanoseconds) else {
            throw ValueError(expected: "a burst the rate refills within ten years", got: text)
        }
        if config.scope == .global && config.key == .route {
            throw ValueError(expected: "scope=global only with a per-key limit (key=client_ip or key=header:NAME)", got: text)
        }
        if config.scope == .global && (config.warmup != nil || config.pace != nil) {
            throw ValueError(expected: "warmup and pace only on local limits", got: text)
        }
        return config
    }

    /// The longest a full bucket may take to refill: `burst × period ÷ count`.
    static let maxRefill = Duration.seconds(315_360_000)

    /// `1000/s` → (1000, 1 s); `10/100ms` → (10, 100 ms); `60/m`, `1/h`, `100/d`. The count is 1 to 10^8, the
    /// period 1ms to 1d.
    static func parseRate(_ text: String) throws(ValueError) -> (Int, Duration) {
        let error = ValueError(
            expected: "a rate like 1000/s, 60/m or 10/100ms (1 to 100000000 per 1ms to 1d)", got: text)
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, let count = try? ValueParsing.integer(parts[0], in: 1...100_000_000) else {
            throw error
        }
        let unit = parts[1]
        let period: Duration
        switch unit {
        case "s": period = .seconds(1)
        case "m": period = .seconds(60)
        case "h": period = .seconds(3600)
        case "d": period = Bounds.day
        default:
            guard let parsed = try? ValueParsing.duration(unit, in: Bounds.ratePeriod) else { throw error }
            period = parsed
        }
        return (count, period)
    }

    static func parseKey(_ text: String) throws(ValueError) -> Key {
        switch text {
        case "route": return .route
        case "client_ip": return .clientIP
        case "identity": return .identity
        default:
            if text.hasPrefix("header:") {
                let name = text.dropFirst("header:".count)
                if !name.isEmpty, name.utf8.allSatisfy(ConfigValidator.isTokenByte) { return .header(name.lowercased()) }
            }
            throw ValueError(expected: "key=route, key=client_ip, key=identity or key=header:NAME", got: text)
        }
    }
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
