/// `health_check = GET /healthz interval=2s timeout=1s rise=2 fall=3 expect=200-399 host=api.internal initial=unhealthy`
///
/// Active HTTP checks of every server of an upstream: a server moves to unhealthy after `fall` failed probes in a
/// row and back after `rise` good ones (nginx's and HAProxy's rise/fall). `interval` and `timeout` are above 0 and at
/// most a day, `rise` and `fall` 1...100, `expect` statuses 100...599.
public struct HealthCheckConfig: Sendable, Hashable {
    public var method: String
    public var path: String
    public var interval: Duration
    /// How long one probe may take (connect, send, answer); longer counts as a failure.
    public var timeout: Duration
    public var rise: Int
    public var fall: Int
    /// Statuses that count as healthy.
    public var expect: [ClosedRange<Int>]
    /// `Host` sent with the probe; nil sends the server's address.
    public var host: String?
    /// Whether a server starts healthy (the default) or must first pass `rise` probes.
    public var initiallyHealthy: Bool
    /// `health_check = grpc [SERVICE] …`: the standard gRPC health service (`grpc.health.v1.Health/Check`) over
    /// HTTP/2 instead of an HTTP request; healthy when it answers SERVING for `SERVICE` (empty: the whole server).
    public var grpcService: String?

    public static let defaultInterval = Duration.seconds(2)
    public static let defaultTimeout = Duration.seconds(1)

    public init(
        method: String = "GET", path: String = "/healthz", interval: Duration = HealthCheckConfig.defaultInterval,
        timeout: Duration = HealthCheckConfig.defaultTimeout, rise: Int = 2, fall: Int = 3,
        expect: [ClosedRange<Int>] = [200...399], host: String? = nil, initiallyHealthy: Bool = true
    ) {
        self.method = method
        self.path = path
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
        self.expect = expect
        self.host = host
        self.initiallyHealthy = initiallyHealthy
    }

    /// Whether `status` counts as a healthy answer.
    public func accepts(status: Int) -> Bool { expect.contains { $0.contains(status) } }

    /// Parses the value of a `health_check` line.
    public static func parse(_ text: String) throws(ValueError) -> HealthCheckConfig {
        var config = HealthCheckConfig()
        var words = ValueParsing.options(text)[...]
        if let first = words.first, first.name == nil, first.value == "grpc" {
            words = words.dropFirst()
            config.grpcService = ""
            if let service = words.first, service.name == nil {
                guard service.value.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "_" }) else {
                    throw ValueError(expected: "a gRPC service name like helloworld.Greeter", got: service.value)
                }
                config.grpcService = service.value
                words = words.dropFirst()
            }
        }
        if config.grpcService == nil, let first = words.first, first.name == nil, !first.value.hasPrefix("/") {
            guard first.value.allSatisfy({ $0.isUppercase }) else {
                throw ValueError(expected: "a method like GET or HEAD, then a path like /healthz", got: first.value)
            }
            config.method = first.value
            words = words.dropFirst()
        }
        if config.grpcService == nil, let first = words.first, first.name == nil {
            guard first.value.hasPrefix("/") else {
                throw ValueError(expected: "a path starting with '/', like /healthz", got: first.value)
            }
            config.path = first.value
            words = words.dropFirst()
        }
        let known = ["interval", "timeout", "rise", "fall", "expect", "host", "initial"]
        for word in words {
            guard let name = word.name else {
                throw ValueError(expected: "options like interval=2s timeout=1s rise=2 fall=3 expect=200-399", got: word.value)
            }
            let count = { (text: String) throws(ValueError) in try ValueParsing.integer(text, in: 1...100) }
            switch name {
            case "interval": config.interval = try word.read(positive)
            case "timeout": config.timeout = try word.read(positive)
            case "rise": config.rise = try word.read(count)
            case "fall": config.fall = try word.read(count)
            case "expect": config.expect = try word.read(statusRanges)
            case "host": config.host = word.value
            case "initial":
                switch word.value {
                case "healthy": config.initiallyHealthy = true
                case "unhealthy": config.initiallyHealthy = false
                default: throw ValueError(expected: "initial=healthy or initial=unhealthy", got: word.value)
                }
            default:
                var expected = "one of the options " + known.joined(separator: ", ")
                if let close = Suggestion.closest(to: name, in: known) { expected = "'\(close)'" }
                throw ValueError(expected: expected, got: name)
            }
        }
        return config
    }

    /// `interval=` and `timeout=`: above 0, at most a day.
    private static func positive(_ text: String) throws(ValueError) -> Duration {
        try ValueParsing.duration(text, in: Bounds.positiveDay)
    }

    /// `200-399`, `200,204`, `200,300-399`.
    static func statusRanges(_ text: String) throws(ValueError) -> [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let bounds = part.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            let low = try ValueParsing.integer(bounds[0], in: 100...599)
            let high = bounds.count == 2 ? try ValueParsing.integer(bounds[1], in: 100...599) : low
            guard low <= high else { throw ValueError(expected: "a status range like 200-399", got: String(part)) }
            ranges.append(low...high)
        }
        guard !ranges.isEmpty else { throw ValueError(expected: "statuses like 200-399 or 200,204", got: text) }
        return ranges
    }
}
