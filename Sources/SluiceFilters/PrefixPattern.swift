/// The commonest rewrite expressions, `^/old/(.*)$`, `^/api(.+)`, `^/exact$`, matched by comparing bytes: an
/// anchored literal, then optionally one group of `.*` or `.+`, then optionally `$`. These match exactly what
/// glibc's `regexec` matches for them (in the C locale `.` is any byte but NUL; a path with a NUL or a non-ASCII
/// byte is left to `regexec`), with the same offsets, and cost no allocation. Anything else is not a shortcut.
struct PrefixPattern: Hashable, Sendable {
    init(literal: [UInt8], tail: Tail, anchoredEnd: Bool) {
        self.literal = literal
        self.tail = tail
        self.anchoredEnd = anchoredEnd
    }

    enum Tail: Hashable, Sendable {
        /// No group: the literal, then the end (`$`) or anything.
        case none
        /// `(.*)`
        case any
        /// `(.+)`
        case some
    }

    enum Outcome: Equatable {
        /// The match's end and the group's range (byte offsets).
        case matched(end: Int, group: Range<Int>?)
        case unmatched
        /// A byte the shortcut cannot judge: ask `regexec`.
        case undecided
    }

    let literal: [UInt8]
    let tail: Tail
    /// Ends with `$`.
    let anchoredEnd: Bool

    /// The shortcut form of `pattern`, or nil when it has another shape.
    init?(_ pattern: String) {
        var bytes = Array(pattern.utf8)[...]
        guard bytes.first == UInt8(ascii: "^") else { return nil }
        bytes = bytes.dropFirst()
        var anchoredEnd = false
        if bytes.last == UInt8(ascii: "$"), bytes.dropLast().last != UInt8(ascii: "\\") {
            anchoredEnd = true
            bytes = bytes.dropLast()
        }
        var tail = Tail.none
        if bytes.count >= 4, bytes.suffix(4).elementsEqual("(.*)".utf8) {
            tail = .any
            bytes = bytes.dropLast(4)
        } else if bytes.count >= 4, bytes.suffix(4).elementsEqual("(.+)".utf8) {
            tail = .some
            bytes = bytes.dropLast(4)
        }
        var literal: [UInt8] = []
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\\") {
                // Only an escaped punctuation character is that character (glibc gives \w, \b, \< … meanings).
                let next = bytes.index(after: index)
                guard next < bytes.endIndex, Self.escapable.utf8.contains(bytes[next]) else { return nil }
                literal.append(bytes[next])
                index = bytes.index(after: next)
                continue
            }
            guard byte > 0x20, byte < 0x7F, !Self.special.utf8.contains(byte) else { return nil }
            literal.append(byte)
            index = bytes.index(after: index)
        }
        self.literal = literal
        self.tail = tail
        self.anchoredEnd = anchoredEnd
    }

    /// Characters with a meaning in an extended expression.
    static let special = ".[]()*+?{}|^$\\"
    static let escapable = ".[]()*+?{}|^$\\/-_~:@!&,;=%#\""

    func match(_ text: Substring.UTF8View) -> Outcome {
        var index = text.startIndex
        for byte in literal {
            guard index < text.endIndex, text[index] == byte else { return .unmatched }
            index = text.index(after: index)
        }
        let start = literal.count
        switch tail {
        case .none:
            if anchoredEnd { return index == text.endIndex ? .matched(end: start, group: nil) : .unmatched }
            return .matched(end: start, group: nil)
        case .any, .some:
            var end = start
            while index < text.endIndex {
                let byte = text[index]
                if byte == 0 || byte >= 0x80 { return .undecided }
                end += 1
                index = text.index(after: index)
            }
            if tail == .some, end == start { return .unmatched }
            return .matched(end: end, group: start..<end)
        }
    }
}
