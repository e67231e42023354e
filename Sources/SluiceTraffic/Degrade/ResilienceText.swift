/// Formatting for the reasons attached to circuit-breaker and degrade transitions ("failure rate 62.0% ≥ 50%",
/// "open for 30s"). No Foundation: the few formats needed are written out.
enum ResilienceText {
    /// A measured percentage with one decimal: `62.0`, `33.3`.
    static func percent(_ value: Double) -> String {
        let tenths = Int((value * 10).rounded())
        let sign = tenths < 0 ? "-" : ""
        let magnitude = tenths.magnitude
        return "\(sign)\(magnitude / 10).\(magnitude % 10)"
    }

    /// A configured threshold as written: `50`, `33.3`.
    static func threshold(_ value: Double) -> String {
        if value == value.rounded(.towardZero), value.magnitude < 1e15 { return "\(Int(value))" }
        return "\(value)"
    }

    /// A duration in the config syntax: `30s`, `1.5s`, `500ms`, `250us`, `7ns`.
    static func duration(_ duration: Duration) -> String {
        let nanos = duration.wholeNanoseconds
        if nanos < 0 { return "-" + Self.duration(.nanoseconds(nanos.magnitude > UInt64(Int64.max) ? .max : -nanos)) }
        let second: Int64 = 1_000_000_000
        let milli: Int64 = 1_000_000
        if nanos % second == 0 { return "\(nanos / second)s" }
        if nanos >= second, nanos % milli == 0 {
            var fraction = String(nanos % second / milli)
            fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
            while fraction.hasSuffix("0") { fraction.removeLast() }
            return "\(nanos / second).\(fraction)s"
        }
        if nanos % milli == 0 { return "\(nanos / milli)ms" }
        if nanos % 1_000 == 0 { return "\(nanos / 1_000)us" }
        return "\(nanos)ns"
    }
}
