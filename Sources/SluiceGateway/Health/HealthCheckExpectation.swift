/// The statuses a health probe must answer with to pass, as written in the configuration: `expect = 200-399`,
/// `expect = 200,204,300-399`, or a class such as `2xx`.
///
/// Grammar: items separated by commas, spaces around items ignored; an item is a status (`200`), an inclusive
/// range (`300-399`, low ≤ high) or a class (`2xx`). Statuses are three-digit, `100...599`.
struct HealthCheckExpectation: Sendable, Equatable {
    /// Why a value is not an expectation; each case carries the offending item.
    enum ParseError: Error, Sendable, Equatable {
        /// The value, or one of its comma-separated items, is empty.
        case empty
        /// An item is neither a status, a range nor a class.
        case invalidItem(String)
        /// A status outside `100...599`.
        case statusOutOfRange(String)
        /// A range whose low end is above its high end.
        case invertedRange(String)
    }

    /// nginx's and HAProxy's default: any 2xx or 3xx.
    static let `default` = HealthCheckExpectation(ranges: [200...399])

    let ranges: [ClosedRange<Int>]

    init(ranges: [ClosedRange<Int>]) {
        self.ranges = ranges
    }

    init(parsing text: String) throws(ParseError) {
        var ranges: [ClosedRange<Int>] = []
        for rawItem in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = Self.trimmed(rawItem)
            guard !item.isEmpty else { throw .empty }
            ranges.append(try Self.range(item))
        }
        self.ranges = ranges
    }

    func accepts(status: Int) -> Bool {
        ranges.contains { $0.contains(status) }
    }

    private static func range(_ item: Substring) throws(ParseError) -> ClosedRange<Int> {
        let text = String(item)
        if item.count == 3, item.hasSuffix("xx") || item.hasSuffix("XX"), let digit = item.first?.wholeNumberValue,
            item.first?.isASCII == true
        {
            guard (1...5).contains(digit) else { throw .statusOutOfRange(text) }
            return (digit * 100)...(digit * 100 + 99)
        }
        let parts = item.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 1 || parts.count == 2 else { throw .invalidItem(text) }
        let low = try status(trimmed(parts[0]), item: text)
        let high = parts.count == 2 ? try status(trimmed(parts[1]), item: text) : low
        guard low <= high else { throw .invertedRange(text) }
        return low...high
    }

    /// Exactly three ASCII digits (`Int("+200")` would accept a sign, and `Int("0200")` a fourth digit).
    private static func status(_ digits: Substring, item: String) throws(ParseError) -> Int {
        guard digits.count == 3, digits.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(digits) else {
            throw .invalidItem(item)
        }
        guard (100...599).contains(value) else { throw .statusOutOfRange(item) }
        return value
    }

    private static func trimmed(_ text: Substring) -> Substring {
        let start = text.firstIndex { $0 != " " && $0 != "\t" } ?? text.endIndex
        let end = text.lastIndex { $0 != " " && $0 != "\t" }.map { text.index(after: $0) } ?? start
        return text[start..<end]
    }
}
