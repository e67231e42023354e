/// What the fault filter does to one request.
public enum FaultAction: Sendable, Equatable {
    case none
    /// Hold the request this long, then proxy it.
    case delay(Duration)
    /// Answer with this status without proxying.
    case abort(status: Int)
    /// Hold the request, then answer with the status.
    case delayThenAbort(Duration, status: Int)
}

/// Fault injection for a route (Envoy's HTTP fault filter, `envoy.filters.http.fault`), from the gateway lines
/// `fault = delay=100ms percent=10`, `fault = abort=503 percent=5` (the config layer merges one delay part and one
/// abort part into one policy) and `fault_header = on`.
///
/// Rules, and where they follow Envoy:
/// - The delay and the abort are drawn independently, each with its own percentage (`0...100`, fractional
///   allowed), as Envoy's `delay.percentage` and `abort.percentage`; when both hit, the request is delayed and
///   then aborted (Envoy also delays before aborting).
/// - With `headerControl`, the request headers `Sluice-Fault-Delay` (`250ms`, `1.5s`, or bare milliseconds) and
///   `Sluice-Fault-Abort` (a status) override the configured part they name, and apply to that request for
///   certain (Envoy's `x-envoy-fault-delay-request` and `x-envoy-fault-abort-request` with `header_delay` /
///   `header_abort`; Envoy still applies the configured percentage to them, Sluice does not: a test client that
///   sends the header wants the fault). A delay header of `0` therefore means "no delay" for that request.
///   Header delays are capped at `maxHeaderDelay` (60s). A header that does not parse, or an abort status
///   outside `200...599`, is ignored: the configured part applies as if the header were absent.
/// - Without `headerControl` the headers are ignored.
public struct FaultPolicy: Sendable, Equatable {
    /// The longest delay a request header may ask for.
    public static let maxHeaderDelay = Duration.seconds(60)

    public let delay: Duration?
    public let delayPercent: Double
    public let abortStatus: Int?
    public let abortPercent: Double
    public let headerControl: Bool

    public init(
        delay: Duration? = nil, delayPercent: Double = 100, abortStatus: Int? = nil, abortPercent: Double = 100,
        headerControl: Bool = false
    ) {
        precondition(delay.map { $0 > .zero } ?? true, "a configured delay is positive")
        precondition(delayPercent >= 0 && delayPercent <= 100, "the delay percentage is in 0...100")
        precondition(abortStatus.map { (200...599).contains($0) } ?? true, "the abort status is in 200...599")
        precondition(abortPercent >= 0 && abortPercent <= 100, "the abort percentage is in 0...100")
        self.delay = delay
        self.delayPercent = delayPercent
        self.abortStatus = abortStatus
        self.abortPercent = abortPercent
        self.headerControl = headerControl
    }

    /// Whether the policy can ever inject anything.
    public var isActive: Bool {
        headerControl || (delay != nil && delayPercent > 0) || (abortStatus != nil && abortPercent > 0)
    }

    /// The fault for one request, given its `Sluice-Fault-Delay` and `Sluice-Fault-Abort` header values.
    public func decide(
        delayHeader: String?, abortHeader: String?, using rng: inout some RandomNumberGenerator
    ) -> FaultAction {
        var delay: Duration?
        if headerControl, let delayHeader, let asked = Self.parseDelay(delayHeader) {
            delay = asked > .zero ? min(asked, Self.maxHeaderDelay) : nil
        } else if let configured = self.delay, Self.draw(delayPercent, using: &rng) {
            delay = configured
        }

        var status: Int?
        if headerControl, let abortHeader, let asked = Self.parseStatus(abortHeader) {
            status = asked
        } else if let configured = abortStatus, Self.draw(abortPercent, using: &rng) {
            status = configured
        }

        switch (delay, status) {
        case (nil, nil): return .none
        case (let delay?, nil): return .delay(delay)
        case (nil, let status?): return .abort(status: status)
        case (let delay?, let status?): return .delayThenAbort(delay, status: status)
        }
    }

    /// Parses a delay: `250ms`, `1s`, `1.5s`, or a bare number of milliseconds (`250`, `0.5`). Surrounding spaces
    /// and tabs are allowed, the unit is case-insensitive; exact to the nanosecond (further digits are dropped).
    /// Nil for anything else, including negative values and values beyond `Int64` nanoseconds.
    public static func parseDelay(_ text: String) -> Duration? {
        var bytes = Array(text.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        let lower = bytes.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }

        var unit: Int64 = 1_000_000
        var number = lower[...]
        if lower.count >= 2, lower[lower.count - 2] == 0x6D, lower[lower.count - 1] == 0x73 {  // "ms"
            number = lower.dropLast(2)
        } else if lower.last == 0x73 {  // "s"
            unit = 1_000_000_000
            number = lower.dropLast()
        }

        let parts = number.split(separator: 0x2E, maxSplits: 1, omittingEmptySubsequences: false)  // "."
        guard let whole = parts.first, !whole.isEmpty, whole.allSatisfy(isDigit) else { return nil }
        var nanos: Int64 = 0
        for digit in whole {
            let (times10, overflow1) = nanos.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int64(digit - 0x30))
            guard !overflow1, !overflow2 else { return nil }
            nanos = sum
        }
        let (scaled, overflow) = nanos.multipliedReportingOverflow(by: unit)
        guard !overflow else { return nil }
        nanos = scaled
        if parts.count == 2 {
            let fraction = parts[1]
            guard !fraction.isEmpty, fraction.allSatisfy(isDigit) else { return nil }
            var place = unit
            for digit in fraction {
                place /= 10
                guard place > 0 else { break }
                let (sum, overflow) = nanos.addingReportingOverflow(Int64(digit - 0x30) * place)
                guard !overflow else { return nil }
                nanos = sum
            }
        }
        return .nanoseconds(nanos)
    }

    /// A status in `200...599`, or nil.
    static func parseStatus(_ text: String) -> Int? {
        var bytes = Array(text.utf8)
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        guard bytes.count == 3, bytes.allSatisfy(isDigit) else { return nil }
        let status = bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        return (200...599).contains(status) ? status : nil
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    /// True with probability `percent` ÷ 100; 0 and 100 draw nothing.
    private static func draw(_ percent: Double, using rng: inout some RandomNumberGenerator) -> Bool {
        if percent <= 0 { return false }
        if percent >= 100 { return true }
        return Double.random(in: 0..<100, using: &rng) < percent
    }
}
