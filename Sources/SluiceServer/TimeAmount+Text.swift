public import NIOCore

extension TimeAmount {
    /// Parses a duration the way operators write them: `250ms`, `2s`, `1m`, `1h`, `1.5s`, `100us`. A bare number
    /// is seconds. Nil if the text is not a duration.
    public init?(text: some StringProtocol) {
        let text = text.trimmingWhitespace()
        let units: [(suffix: String, nanoseconds: Double)] = [
            ("ns", 1), ("us", 1e3), ("µs", 1e3), ("ms", 1e6), ("s", 1e9), ("m", 60e9), ("h", 3600e9),
        ]
        for (suffix, scale) in units where text.hasSuffix(suffix) {
            let number = text.dropLast(suffix.count)
            // "ms" also ends in "s", "ns"/"us" in "s": only accept when what remains is a number.
            guard let value = Double(number), value >= 0, value.isFinite, value * scale < 9.2e18 else { continue }
            self = .nanoseconds(Int64(value * scale))
            return
        }
        guard let seconds = Double(text), seconds >= 0, seconds.isFinite, seconds < 9.2e9 else { return nil }
        self = .nanoseconds(Int64(seconds * 1e9))
    }

    /// The duration in the shortest unit that shows it exactly enough: `250ms`, `2s`, `1m`.
    public var text: String {
        let ns = nanoseconds
        if ns % 60_000_000_000 == 0 && ns != 0 { return "\(ns / 60_000_000_000)m" }
        if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
        if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
        if ns % 1_000 == 0 { return "\(ns / 1_000)us" }
        return "\(ns)ns"
    }
}

extension StringProtocol {
    func trimmingWhitespace() -> Substring {
        var slice = Substring(self)
        while let first = slice.first, first.isWhitespace { slice.removeFirst() }
        while let last = slice.last, last.isWhitespace { slice.removeLast() }
        return slice
    }
}
