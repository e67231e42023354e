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
            case "status": config.status = try word.integer(in: 200...599)
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
            case "delay": delay = try word.duration(in: Bounds.positiveHour)
            case "abort": abort = try word.integer(in: 200...599)
            case "percent":
                let value = word.value.hasSuffix("%") ? word.value : word.value + "%"
                fraction = try ValueOption(name: name, value: value).percentage()
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

/// The typed readers of one option word; errors name the whole word (`got 'open=0s'`).
extension ValueOption {
    func duration(in range: ClosedRange<Duration>) throws(ValueError) -> Duration {
        try read { text throws(ValueError) in try ValueParsing.duration(text, in: range) }
    }

    func integer(in range: ClosedRange<Int>) throws(ValueError) -> Int {
        try read { text throws(ValueError) in try ValueParsing.integer(text, in: range) }
    }

    func percentage() throws(ValueError) -> Double {
        try read { text throws(ValueError) in try ValueParsing.percentage(text) }
    }
}

func unknownOption(_ name: String, _ known: [String]) -> ValueError {
    var expected = "one of the options " + known.joined(separator: ", ")
    if let close = Suggestion.closest(to: name, in: known) { expected = "'\(close)'" }
    return ValueError(expected: expected, got: name)
}
