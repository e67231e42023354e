/// A problem in an authentication file (API keys, htpasswd, JWT keys): what is wrong, and on which line.
///
/// Messages never quote a secret (a key, a password hash is fine to name by its scheme only).
public struct AuthFileError: Error, Hashable, Sendable, CustomStringConvertible {
    /// The 1-based line in the file, or nil when the problem concerns the whole file.
    public var line: Int?
    /// What is wrong, for an operator.
    public var message: String

    public init(line: Int? = nil, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { "line \(line): \(message)" } else { message }
    }
}

/// One line of an authentication file that holds something: its 1-based number and its text, trimmed.
struct AuthFileLine {
    var number: Int
    var text: Substring
}

extension AuthFileLine {
    /// The lines of `contents` that are neither blank nor `#` comments, trimmed of surrounding spaces and tabs.
    ///
    /// Lines end at LF or CRLF (a CRLF pair is one `Character` in Swift, so it is matched as such).
    static func significant(in contents: String) -> [AuthFileLine] {
        var lines: [AuthFileLine] = []
        let raw = contents.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, line) in raw.enumerated() {
            let text = line.trimmingBlanks()
            if text.isEmpty || text.first == "#" { continue }
            lines.append(AuthFileLine(number: index + 1, text: text))
        }
        return lines
    }
}

extension Character {
    /// Space, tab, or a stray carriage return: what surrounds fields in the files read here.
    var isBlank: Bool { self == " " || self == "\t" || self == "\r" }
}

extension StringProtocol where SubSequence == Substring {
    /// The text without leading and trailing spaces, tabs and carriage returns.
    func trimmingBlanks() -> Substring {
        let text = self[...]
        guard let first = text.firstIndex(where: { !$0.isBlank }),
            let last = text.lastIndex(where: { !$0.isBlank })
        else { return text[text.endIndex...] }
        return text[first...last]
    }
}
