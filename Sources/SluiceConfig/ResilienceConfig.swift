public import SluiceTraffic

/// `circuit_breaker = failure_rate=50% slow_call=1s slow_rate=80% window=100 min_calls=20 open=30s half_open=5`
/// on an upstream (or a route): resilience4j's breaker. `window` is a number of calls (1...100,000) or a duration
/// (1s...1d); `min_calls` 1...100,000, `half_open` 1...1000, the rates above 0% and at most 100%, `slow_call`,
/// `open` and `half_open_timeout` above 0 and at most a day.
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
            case "failure_rate": config.failureRate = try word.percentage()
            case "slow_call": config.slowCall = try word.duration(in: Bounds.positiveDay)
            case "slow_rate": config.slowRate = try word.percentage()
            case "window":
                if let calls = try? ValueParsing.integer(word.value, in: 1...100_000) {
                    config.window = .calls(calls)
                } else if let span = try? ValueParsing.duration(word.value, in: Bounds.breakerWindow) {
                    config.window = .time(span)
                } else {
                    throw ValueError(
                        expected: "window=N calls from 1 to 100000 (like 100) or a duration from 1s to 1d (like 10s)",
                        got: "window=\(word.value)")
                }
            case "min_calls": config.minCalls = try word.integer(in: 1...100_000)
            case "open": config.open = try word.duration(in: Bounds.positiveDay)
            case "half_open": config.halfOpen = try word.integer(in: 1...1000)
            case "half_open_timeout": config.halfOpenTimeout = try word.duration(in: Bounds.positiveDay)
            default: throw unknownOption(name, known)
            }
        }
        if case .calls(let calls) = config.window, config.minCalls > calls {
            throw ValueError(expected: "min_calls no larger than the window's calls", got: text)
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
            case "min": givenMin = try word.integer(in: 1...100_000)
            case "max": config.maxLimit = try word.integer(in: 1...1_000_000)
            case "initial": givenInitial = try word.integer(in: 1...1_000_000)
            case "tolerance":
                config.tolerance = try word.read { text throws(ValueError) in
                    try ValueParsing.number(text, in: 1...10)
                }
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
/// `slow` and `recovery` are above 0 and at most a day, `window` 100ms...1d, `error_count` and `min_requests`
/// 1...1,000,000.
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
            case "slow": slow = try word.duration(in: Bounds.positiveDay)
            case "ratio": ratio = try word.percentage()
            case "error_ratio": trigger = .errorRatio(try word.percentage())
            case "error_count": trigger = .errorCount(try word.integer(in: 1...1_000_000))
            case "window": window = try word.duration(in: Bounds.degradeWindow)
            case "min_requests": minRequests = try word.integer(in: 1...1_000_000)
            case "recovery": recovery = try word.duration(in: Bounds.positiveDay)
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
        var config = DegradeConfig(trigger: trigger)
        if let window { config.window = window }
        if let minRequests { config.minRequests = minRequests }
        if let recovery { config.recovery = recovery }
        if let shed { config.shedUpTo = shed }
        return config
    }
}
