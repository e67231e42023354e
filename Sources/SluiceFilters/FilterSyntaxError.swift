/// A filter value that does not read as what its key expects. The configuration loader adds file, line and key.
public struct FilterSyntaxError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What the key takes, with an example.
    public var expected: String
    /// The text that was given.
    public var got: String

    public init(expected: String, got: some StringProtocol) {
        self.expected = expected
        self.got = String(got)
    }

    /// `expected X, got 'Y'`.
    public var description: String {
        got.isEmpty ? "expected \(expected), got nothing" : "expected \(expected), got '\(got)'"
    }
}

enum FilterText {
    /// RFC 9110 §5.6.2 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    static func isToken(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(isTokenByte)
    }

    /// Without leading and trailing spaces and tabs.
    static func trimmed(_ text: some StringProtocol) -> Substring {
        var slice = Substring(text)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return slice
    }

    /// Splits off the first space-separated word: (word, rest trimmed).
    static func firstWord(_ text: Substring) -> (Substring, Substring) {
        let text = trimmed(text)
        guard let space = text.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return (text, "") }
        return (text[..<space], trimmed(text[space...]))
    }

    /// Whether a byte may appear in a path as sent (RFC 3986 `pchar` and `/`, `%` for escapes).
    static func isPathByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: "-._~!$&'()*+,;=:@/%".utf8.contains(byte)
        }
    }

    /// A control byte (never allowed in a header value; TAB is).
    static func isControl(_ byte: UInt8) -> Bool { (byte < 0x20 && byte != 0x09) || byte == 0x7F }
}
