/// A value that does not read as what its key expects.
public struct ValueError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What the key takes, as a phrase with an example: `a duration like 500ms, 2s or 1m`.
    public var expected: String
    /// The text that was given.
    public var got: String

    public init(expected: String, got: some StringProtocol) {
        self.expected = expected
        self.got = String(got)
    }

    /// `expected a duration like 500ms, 2s or 1m, got '5 sec'`
    public var description: String {
        got.isEmpty ? "expected \(expected), got nothing" : "expected \(expected), got '\(got)'"
    }
}

/// The value syntax of Sluice's configuration, shared by every module that reads a key: durations, sizes,
/// percentages, booleans, bounded integers and `name=value` option lists.
///
/// Each reader takes the value as written (surrounding whitespace is ignored) and throws a `ValueError` that says what
/// was expected.
public enum ValueParsing {
    /// `500ms`, `2s`, `1m`, `1h`, `1d`, `100us`, `1.5s` (also `ns` and `µs`). A bare number is refused: `timeout = 5`
    /// could mean seconds or milliseconds, and guessing wrong by a factor of a thousand is worse than asking.
    /// Anything that does not fit 64-bit nanoseconds (about 292 years) is refused too, never wrapped or trapped on:
    /// keys then check their own, much smaller, range with `duration(_:in:)`.
    public static func duration(_ text: some StringProtocol) throws(ValueError) -> Duration {
        let error = ValueError(expected: "a duration like 500ms, 2s or 1m", got: text.trimmedSpaces)
        let text = Array(text.trimmedSpaces.utf8)[...]
        let digits = text.prefix { isDigit($0) || $0 == UInt8(ascii: ".") }
        let unit = String(decoding: text[digits.endIndex...], as: UTF8.self)
        let scale: Int64
        switch unit {
        case "ns": scale = 1
        case "us", "µs": scale = 1_000
        case "ms": scale = 1_000_000
        case "s": scale = 1_000_000_000
        case "m": scale = 60_000_000_000
        case "h": scale = 3_600_000_000_000
        case "d": scale = 86_400_000_000_000
        default: throw error
        }
        guard let nanoseconds = decimal(digits, scale: scale) else { throw error }
        return .nanoseconds(nanoseconds)
    }

    /// A duration within `range`; the error states the bound that was crossed (`a duration of at most 1d`).
    public static func duration(_ text: some StringProtocol, in range: ClosedRange<Duration>) throws(ValueError)
        -> Duration
    {
        let duration = try duration(text)
        guard range.contains(duration) else {
            throw ValueError(expected: describe(range, below: duration < range.lowerBound), got: text.trimmedSpaces)
        }
        return duration
    }

    /// What a duration in `range` is, as the bound an out-of-range value crossed.
    static func describe(_ range: ClosedRange<Duration>, below: Bool) -> String {
        if below {
            return range.lowerBound == .nanoseconds(1)
                ? "a duration above 0, like 500ms, 2s or 1m" : "a duration of at least \(text(range.lowerBound))"
        }
        return "a duration of at most \(text(range.upperBound))"
    }

    /// `512`, `64k`, `1m`, `1g` in bytes, with k = 1024.
    public static func size(_ text: some StringProtocol) throws(ValueError) -> Int {
        let error = ValueError(expected: "a size like 512, 64k, 1m or 1g", got: text.trimmedSpaces)
        var text = Array(text.trimmedSpaces.utf8)[...]
        var scale = 1
        switch text.last {
        case UInt8(ascii: "k"), UInt8(ascii: "K"): scale = 1 << 10
        case UInt8(ascii: "m"), UInt8(ascii: "M"): scale = 1 << 20
        case UInt8(ascii: "g"), UInt8(ascii: "G"): scale = 1 << 30
        default: break
        }
        if scale > 1 { text = text.dropLast() }
        guard let number = wholeNumber(text) else { throw error }
        let (bytes, overflow) = number.multipliedReportingOverflow(by: scale)
        guard !overflow else { throw error }
        return bytes
    }

    /// A size within `range`; the error states the bound that was crossed (`a size of at most 16m`).
    public static func size(_ text: some StringProtocol, in range: ClosedRange<Int>) throws(ValueError) -> Int {
        let size = try size(text)
        if size < range.lowerBound {
            throw ValueError(
                expected: "a size of at least \(range.lowerBound), like 512, 64k or 1m", got: text.trimmedSpaces)
        }
        if size > range.upperBound {
            throw ValueError(expected: "a size of at most \(sizeText(range.upperBound))", got: text.trimmedSpaces)
        }
        return size
    }

    /// The shortest exact spelling of `bytes` in the syntax `size(_:)` reads: `512`, `64k`, `16m`, `1024g`.
    public static func sizeText(_ bytes: Int) -> String {
        for (unit, shift) in [("g", 30), ("m", 20), ("k", 10)] where bytes != 0 && bytes % (1 << shift) == 0 {
            return "\(bytes >> shift)\(unit)"
        }
        return String(bytes)
    }

    /// `50%` as 0.5; from `0%` to `100%`, decimals allowed (`12.5%`).
    public static func percentage(_ text: some StringProtocol) throws(ValueError) -> Double {
        let error = ValueError(expected: "a percentage from 0% to 100%, like 50%", got: text.trimmedSpaces)
        let text = Array(text.trimmedSpaces.utf8)[...]
        guard text.last == UInt8(ascii: "%"),
            let hundredths = decimal(text.dropLast(), scale: 1_000_000_000), hundredths <= 100_000_000_000
        else { throw error }
        return Double(hundredths) / 100_000_000_000
    }

    /// `on`, `off`, `true`, `false`, `yes`, `no`, in any case.
    public static func boolean(_ text: some StringProtocol) throws(ValueError) -> Bool {
        switch text.trimmedSpaces.lowercased() {
        case "on", "true", "yes": return true
        case "off", "false", "no": return false
        default: throw ValueError(expected: "on or off", got: text.trimmedSpaces)
        }
    }

    /// A whole number in `range`: digits, with a leading `-` only if the range allows negatives (and never `-0`).
    /// No `+`, no hex, no exponent; at most 18 digits, so that reading never overflows.
    public static func integer(_ text: some StringProtocol, in range: ClosedRange<Int>) throws(ValueError) -> Int {
        let error = ValueError(expected: describe(range), got: text.trimmedSpaces)
        var bytes = Array(text.trimmedSpaces.utf8)[...]
        let negative = bytes.first == UInt8(ascii: "-")
        if negative { bytes = bytes.dropFirst() }
        guard let magnitude = wholeNumber(bytes), !negative || (magnitude > 0 && range.lowerBound < 0) else {
            throw error
        }
        let value = negative ? -magnitude : magnitude
        guard range.contains(value) else { throw error }
        return value
    }

    /// A decimal number in `range`: `1`, `1.25`; no sign, no exponent, at most nine decimals.
    public static func number(_ text: some StringProtocol, in range: ClosedRange<Double>) throws(ValueError) -> Double {
        let error = ValueError(expected: describe(range), got: text.trimmedSpaces)
        guard let billionths = decimal(Array(text.trimmedSpaces.utf8)[...], scale: 1_000_000_000) else { throw error }
        let value = Double(billionths) / 1_000_000_000
        guard range.contains(value) else { throw error }
        return value
    }

    /// One of `choices`, written exactly; the error lists them and suggests the closest.
    public static func choice<T>(_ text: some StringProtocol, _ choices: [(String, T)]) throws(ValueError) -> T {
        let text = text.trimmedSpaces
        if let found = choices.first(where: { $0.0 == text }) { return found.1 }
        let names = choices.map(\.0)
        var expected = "one of " + names.joined(separator: ", ")
        if let close = Suggestion.closest(to: String(text), in: names) { expected += " (did you mean '\(close)'?)" }
        throw ValueError(expected: expected, got: text)
    }

    /// Splits `10.0.1.10:8081 zone=az1 weight=2 backup` into words at whitespace; a word with `=` is a named option.
    public static func options(_ text: some StringProtocol) -> [ValueOption] {
        text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map { word in
            guard let equals = word.firstIndex(of: "=") else { return ValueOption(name: nil, value: String(word)) }
            return ValueOption(name: String(word[..<equals]), value: String(word[word.index(after: equals)...]))
        }
    }

    /// The shortest exact spelling of `duration` in the syntax `duration(_:)` reads: `250ms`, `2s`, `1m`, `1h`, `1d`.
    public static func text(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return "\(seconds)s" }
        let nanoseconds = whole + attoseconds / 1_000_000_000
        guard nanoseconds != 0 else { return "0s" }
        let units: [(String, Int64)] = [
            ("d", 86_400_000_000_000), ("h", 3_600_000_000_000), ("m", 60_000_000_000), ("s", 1_000_000_000),
            ("ms", 1_000_000), ("us", 1_000),
        ]
        for (unit, scale) in units where nanoseconds % scale == 0 { return "\(nanoseconds / scale)\(unit)" }
        return "\(nanoseconds)ns"
    }

    // MARK: Numbers

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// Digits only, no sign, no overflow.
    static func wholeNumber(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18, bytes.allSatisfy(isDigit) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
    }

    /// `digits[.digits]` times `scale`, exactly (no floating point: `1.1s` is 1,100,000,000ns, not one less).
    /// Precision beyond what `scale` can hold is dropped. Nil for anything else or on overflow.
    private static func decimal(_ bytes: ArraySlice<UInt8>, scale: Int64) -> Int64? {
        let parts = bytes.split(separator: UInt8(ascii: "."), maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, let wholeValue = wholeNumber(whole) else { return nil }
        let (scaled, overflow) = Int64(wholeValue).multipliedReportingOverflow(by: scale)
        guard !overflow else { return nil }
        guard parts.count == 2 else { return scaled }
        let fraction = parts[1]
        guard !fraction.isEmpty, fraction.allSatisfy(isDigit) else { return nil }
        var remainder: Int64 = 0
        var unit = scale
        for digit in fraction.prefix(18) {
            unit /= 10
            remainder += Int64(digit - UInt8(ascii: "0")) * unit
        }
        let (sum, sumOverflow) = scaled.addingReportingOverflow(remainder)
        return sumOverflow ? nil : sum
    }

    private static func describe(_ range: ClosedRange<Int>) -> String {
        if range.upperBound == .max { return "a whole number of at least \(range.lowerBound)" }
        return "a whole number from \(range.lowerBound) to \(range.upperBound)"
    }

    private static func describe(_ range: ClosedRange<Double>) -> String {
        func text(_ value: Double) -> String {
            value == value.rounded() && value.magnitude < 1e15 ? String(Int(value)) : String(value)
        }
        return "a number from \(text(range.lowerBound)) to \(text(range.upperBound)), like 1.5"
    }
}

/// One word of an option list: `backup` (no name) or `weight=2`.
public struct ValueOption: Hashable, Sendable {
    public var name: String?
    public var value: String

    public init(name: String?, value: String) {
        self.name = name
        self.value = value
    }

    /// The value read by `parse`; an error about the value names the whole word (`got 'interval=0s'`), so that the
    /// option is found on a line with several.
    public func read<T>(_ parse: (String) throws(ValueError) -> T) throws(ValueError) -> T {
        do {
            return try parse(value)
        } catch {
            guard let name, error.got == value.trimmedSpaces else { throw error }
            throw ValueError(expected: error.expected, got: "\(name)=\(value)")
        }
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs.
    var trimmedSpaces: Substring {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }
}
