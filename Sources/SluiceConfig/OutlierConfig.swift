/// `outlier = consecutive_5xx=5 consecutive_gateway_failure=5 ejection=30s max_ejection=300s max_ejected=50% interval=10s success_rate=on`
///
/// Passive outlier ejection with Envoy's semantics: a server that fails too often in a row is ejected for
/// `ejection × times ejected` (capped at `max_ejection`), never more than `max_ejected` of the upstream at once.
/// Counts are 0...1000; `ejection`, `max_ejection` and `interval` are above 0 and at most a day.
public struct OutlierConfig: Sendable, Hashable {
    /// Upstream 5xx answers in a row that eject a server; 0 turns the rule off.
    public var consecutive5xx: Int
    /// Gateway failures in a row (connect failures, resets, timeouts, and 502/503/504) that eject a server; 0: off.
    public var consecutiveGatewayFailure: Int
    public var ejection: Duration
    public var maxEjection: Duration
    /// The largest share of the upstream's servers ejected at once.
    public var maxEjectedPercent: Double
    /// How often ejections are reviewed and success rates computed.
    public var interval: Duration
    /// Also eject servers whose success rate falls below mean − 1.9 × stdev of the upstream's.
    public var successRate: Bool

    public init(
        consecutive5xx: Int = 5, consecutiveGatewayFailure: Int = 5, ejection: Duration = .seconds(30),
        maxEjection: Duration = .seconds(300), maxEjectedPercent: Double = 0.5, interval: Duration = .seconds(10),
        successRate: Bool = false
    ) {
        self.consecutive5xx = consecutive5xx
        self.consecutiveGatewayFailure = consecutiveGatewayFailure
        self.ejection = ejection
        self.maxEjection = maxEjection
        self.maxEjectedPercent = maxEjectedPercent
        self.interval = interval
        self.successRate = successRate
    }

    public static func parse(_ text: String) throws(ValueError) -> OutlierConfig {
        var config = OutlierConfig()
        let known = [
            "consecutive_5xx", "consecutive_gateway_failure", "ejection", "max_ejection", "max_ejected", "interval",
            "success_rate",
        ]
        for word in ValueParsing.options(text) {
            guard let name = word.name else {
                if word.value == "on" { continue }
                throw ValueError(expected: "options like consecutive_5xx=5 ejection=30s max_ejected=50%", got: word.value)
            }
            let count = { (text: String) throws(ValueError) in try ValueParsing.integer(text, in: 0...1000) }
            let duration = { (text: String) throws(ValueError) in
                try ValueParsing.duration(text, in: Bounds.positiveDay)
            }
            switch name {
            case "consecutive_5xx": config.consecutive5xx = try word.read(count)
            case "consecutive_gateway_failure": config.consecutiveGatewayFailure = try word.read(count)
            case "ejection": config.ejection = try word.read(duration)
            case "max_ejection": config.maxEjection = try word.read(duration)
            case "max_ejected":
                config.maxEjectedPercent = try word.read { text throws(ValueError) in try ValueParsing.percentage(text) }
            case "interval": config.interval = try word.read(duration)
            case "success_rate":
                config.successRate = try word.read { text throws(ValueError) in try ValueParsing.boolean(text) }
            default:
                var expected = "one of the options " + known.joined(separator: ", ")
                if let close = Suggestion.closest(to: name, in: known) { expected = "'\(close)'" }
                throw ValueError(expected: expected, got: name)
            }
        }
        guard config.ejection > .zero, config.interval > .zero else {
            throw ValueError(expected: "ejection and interval above 0", got: text)
        }
        guard config.maxEjection >= config.ejection else {
            throw ValueError(expected: "max_ejection at least as long as ejection", got: text)
        }
        return config
    }
}

/// `hash_key`: what consistent hashing (`balance = hash`) hashes.
public enum HashKey: Sendable, Hashable, CustomStringConvertible {
    case header(String)
    case cookie(String)
    case clientIP
    case path

    public static func parse(_ text: String) throws(ValueError) -> HashKey {
        let expected = "header:NAME, cookie:NAME, client_ip or path"
        if text == "client_ip" { return .clientIP }
        if text == "path" { return .path }
        let parts = text.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, !parts[1].isEmpty else { throw ValueError(expected: expected, got: text) }
        switch parts[0] {
        case "header": return .header(String(parts[1]).lowercased())
        case "cookie": return .cookie(String(parts[1]))
        default: throw ValueError(expected: expected, got: text)
        }
    }

    public var description: String {
        switch self {
        case .header(let name): "header:\(name)"
        case .cookie(let name): "cookie:\(name)"
        case .clientIP: "client_ip"
        case .path: "path"
        }
    }
}
