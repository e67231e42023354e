/// `upstream = users-v1 90%, users-v2 10%`: one part of a weighted split.
public struct UpstreamSplit: Sendable, Hashable {
    public var upstream: String
    /// The share of traffic, 0...1.
    public var weight: Double

    public init(upstream: String, weight: Double) {
        self.upstream = upstream
        self.weight = weight
    }

    /// Parses an `upstream` value: one name, or `name share%, name share%, ...` with shares adding up to 100%.
    public static func parseList(_ text: String) throws(ValueError) -> [UpstreamSplit] {
        let parts = text.split(separator: ",").map { $0.split(whereSeparator: { $0 == " " || $0 == "\t" }) }
        if parts.count == 1, parts[0].count == 1 { return [UpstreamSplit(upstream: String(parts[0][0]), weight: 1)] }
        var splits: [UpstreamSplit] = []
        for part in parts {
            guard part.count == 2 else {
                throw ValueError(expected: "an upstream name, or a split like 'users-v1 90%, users-v2 10%'", got: text)
            }
            splits.append(UpstreamSplit(upstream: String(part[0]), weight: try ValueParsing.percentage(part[1])))
        }
        let total = splits.reduce(0) { $0 + $1.weight }
        guard abs(total - 1) < 0.0001 else {
            throw ValueError(expected: "shares that add up to 100%", got: text)
        }
        return splits
    }
}

/// `canary = header:X-Canary=1 -> users-v2`: requests that carry the header value go to another upstream.
public struct CanaryRule: Sendable, Hashable {
    /// Lowercased header name.
    public var header: String
    public var value: String
    public var upstream: String

    public init(header: String, value: String, upstream: String) {
        self.header = header
        self.value = value
        self.upstream = upstream
    }

    public static func parse(_ text: String) throws(ValueError) -> CanaryRule {
        let expected = "header:NAME=VALUE -> UPSTREAM, like header:X-Canary=1 -> users-v2"
        let sides = text.split(separator: "->", maxSplits: 1, omittingEmptySubsequences: false)
        guard sides.count == 2 else { throw ValueError(expected: expected, got: text) }
        let condition = sides[0].trimmedSpaces
        let upstream = sides[1].trimmedSpaces
        guard condition.hasPrefix("header:"), !upstream.isEmpty else { throw ValueError(expected: expected, got: text) }
        let pair = condition.dropFirst("header:".count).split(separator: "=", maxSplits: 1)
        guard pair.count == 2, !pair[0].isEmpty else { throw ValueError(expected: expected, got: text) }
        return CanaryRule(header: pair[0].lowercased(), value: String(pair[1]), upstream: String(upstream))
    }
}

/// When a failed try is tried again elsewhere.
public enum RetryCondition: Sendable, Hashable, CustomStringConvertible {
    /// The TCP connect failed or timed out: nothing reached the upstream.
    case connectFailure
    /// The upstream closed or reset the connection before answering.
    case reset
    /// The upstream answered this status (502, 503, 504), or the try timed out (504).
    case status(Int)

    public var description: String {
        switch self {
        case .connectFailure: "connect_failure"
        case .reset: "reset"
        case .status(let code): String(code)
        }
    }
}

/// `retries = 2 on=connect_failure,reset,502,503,504 per_try_timeout=1s backoff=25ms`: 0...10 retries, on
/// statuses 500...599, `per_try_timeout` above 0 and at most a day, `backoff` at most an hour.
public struct RetryPolicy: Sendable, Hashable {
    /// Further tries after the first (0...10).
    public var retries: Int
    public var on: [RetryCondition]
    /// How long one try may wait for its answer before the next server is tried; nil: the route's `timeout`.
    public var perTryTimeout: Duration?
    /// Base of the jittered exponential backoff between tries.
    public var backoff: Duration

    public static let defaultConditions: [RetryCondition] = [.connectFailure, .reset]

    public init(
        retries: Int = 1, on: [RetryCondition] = RetryPolicy.defaultConditions, perTryTimeout: Duration? = nil,
        backoff: Duration = .milliseconds(25)
    ) {
        self.retries = retries
        self.on = on
        self.perTryTimeout = perTryTimeout
        self.backoff = backoff
    }

    public func retries(on condition: RetryCondition) -> Bool { on.contains(condition) }

    public static func parse(_ text: String) throws(ValueError) -> RetryPolicy {
        var policy = RetryPolicy()
        let words = ValueParsing.options(text)
        guard let first = words.first, first.name == nil else {
            throw ValueError(expected: "a number of retries, then options like on=connect_failure,502 per_try_timeout=1s", got: text)
        }
        policy.retries = try ValueParsing.integer(first.value, in: 0...10)
        for word in words.dropFirst() {
            switch word.name {
            case "on":
                let error = ValueError(
                    expected: "on= a comma-separated list of connect_failure, reset, 5xx and statuses 500 to 599",
                    got: "on=\(word.value)")
                var conditions: [RetryCondition] = []
                for item in word.value.split(separator: ",", omittingEmptySubsequences: false) {
                    switch item {
                    case "connect_failure": conditions.append(.connectFailure)
                    case "reset": conditions.append(.reset)
                    case "5xx": conditions += [.status(500), .status(502), .status(503), .status(504)]
                    default:
                        guard let code = try? ValueParsing.integer(item, in: 500...599) else { throw error }
                        conditions.append(.status(code))
                    }
                }
                policy.on = conditions
            case "per_try_timeout": policy.perTryTimeout = try word.duration(in: Bounds.positiveDay)
            case "backoff": policy.backoff = try word.duration(in: Bounds.upToHour)
            default:
                throw ValueError(expected: "options on=, per_try_timeout= and backoff=", got: word.name ?? word.value)
            }
        }
        return policy
    }
}
