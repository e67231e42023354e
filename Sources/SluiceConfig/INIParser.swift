/// Reads the INI dialect of Sluice's configuration files, one file at a time (`ConfigLoader` follows includes).
///
/// - `[kind]` or `[kind name]` opens a section; names are letters, digits, `_`, `.` and `-`.
/// - `key = value`: keys are lowercase letters, digits and `_`; whitespace around keys and values is trimmed; a key
///   written again adds another entry (repeated keys build lists).
/// - `;` and `#` start a comment at the start of a line, or after whitespace in the middle of one: `a = b ; c` is `b`,
///   `a = b;c` is `b;c`. Inside double quotes they are text.
/// - A value may be double-quoted to keep leading or trailing spaces, `;` or `#`; `\"` and `\\` are its escapes.
/// - CRLF line ends and a UTF-8 byte order mark are accepted, as editors on every platform write them.
///
/// Every line that is none of these is reported with its line number and left out; parsing carries on so that one
/// run reports every bad line.
public enum INIParser {
    /// Parses `text`, read from `file` (used only to place entries and errors).
    public static func parse(_ text: String, file: String) -> INIDocument {
        var bytes = Array(text.utf8)[...]
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }
        var document = INIDocument(files: [file])
        // Entries after a header that could not be read belong to no known section: they are dropped quietly rather
        // than reported as strays, since the header is the one mistake.
        var skipping = false
        var lineNumber = 0
        for rawLine in bytes.split(separator: ASCII.newline, omittingEmptySubsequences: false) {
            lineNumber += 1
            var line = rawLine
            if line.last == ASCII.carriageReturn { line = line.dropLast() }
            let location = SourceLocation(file: file, line: lineNumber)
            switch parseLine(line) {
            case .blank:
                continue
            case .header(let kind, let name):
                document.sections.append(INISection(kind: kind, name: name, location: location))
                skipping = false
            case .entry(let key, let value):
                if skipping { continue }
                guard !document.sections.isEmpty else {
                    let message = "a key outside any section; put it under [server], [upstream NAME] or [route NAME]"
                    document.errors.append(ConfigError(location: location, key: key, message: message))
                    continue
                }
                let entry = INIEntry(key: key, value: value, location: location)
                document.sections[document.sections.count - 1].entries.append(entry)
            case .badHeader(let message):
                document.errors.append(ConfigError(location: location, message: message))
                skipping = true
            case .badEntry(let key, let message):
                let section = skipping ? nil : document.sections.last?.header
                document.errors.append(ConfigError(location: location, section: section, key: key, message: message))
            }
        }
        return document
    }

    /// What one line holds.
    enum Line: Equatable {
        case blank
        case header(kind: String, name: String?)
        case entry(key: String, value: String)
        case badHeader(String)
        case badEntry(key: String?, String)
    }

    static func parseLine(_ line: ArraySlice<UInt8>) -> Line {
        let content = line.trimmed()
        guard let first = content.first else { return .blank }
        if first == ASCII.semicolon || first == ASCII.hash { return .blank }
        if first == ASCII.openBracket { return parseHeader(content) }
        guard let equals = content.firstIndex(of: ASCII.equals) else {
            return .badEntry(
                key: nil,
                "expected 'key = value', a [section] header or a comment, got '\(quote(content))'")
        }
        let keyBytes = content[..<equals].trimmed()
        let key = String(decoding: keyBytes, as: UTF8.self)
        guard !keyBytes.isEmpty else { return .badEntry(key: nil, "expected a key before '='") }
        guard keyBytes.allSatisfy(ASCII.isKeyByte) else {
            let lowered = key.lowercased()
            if lowered.utf8.allSatisfy(ASCII.isKeyByte) {
                return .badEntry(key: nil, "keys are lowercase: did you mean '\(lowered)'?")
            }
            return .badEntry(
                key: nil, "invalid key '\(quote(keyBytes))': keys are lowercase letters, digits and '_'")
        }
        switch parseValue(content[(equals + 1)...]) {
        case .success(let value): return .entry(key: key, value: value)
        case .failure(let message): return .badEntry(key: key, message)
        }
    }

    private static func parseHeader(_ content: ArraySlice<UInt8>) -> Line {
        let expected = "expected a section header like [server], [upstream NAME] or [route NAME]"
        guard let close = content.firstIndex(of: ASCII.closeBracket) else {
            return .badHeader("\(expected); the closing ']' is missing")
        }
        let rest = content[(close + 1)...].trimmed()
        if let next = rest.first, next != ASCII.semicolon, next != ASCII.hash {
            return .badHeader("unexpected text after ']': '\(quote(rest))'")
        }
        let words = content[(content.startIndex + 1)..<close].split(whereSeparator: ASCII.isSpace)
        guard (1...2).contains(words.count) else {
            return .badHeader("\(expected), got '\(quote(content[...close]))'")
        }
        for word in words where !word.allSatisfy(ASCII.isNameByte) {
            return .badHeader(
                "'\(quote(word))' in '\(quote(content[...close]))': section kinds and names may only hold letters, "
                    + "digits, '_', '.' and '-'")
        }
        let kind = String(decoding: words[0], as: UTF8.self)
        let name = words.count == 2 ? String(decoding: words[1], as: UTF8.self) : nil
        return .header(kind: kind, name: name)
    }

    private enum ValueResult {
        case success(String)
        case failure(String)
    }

    /// The value after `=`: unquoted and cut at its comment.
    private static func parseValue(_ text: ArraySlice<UInt8>) -> ValueResult {
        var index = text.startIndex
        while index < text.endIndex, ASCII.isSpace(text[index]) { index += 1 }
        guard index < text.endIndex, text[index] == ASCII.quote else {
            return .success(String(decoding: unquotedValue(text, from: index), as: UTF8.self))
        }
        var value: [UInt8] = []
        index += 1
        var closed = false
        while index < text.endIndex {
            let byte = text[index]
            if byte == ASCII.backslash, index + 1 < text.endIndex,
                text[index + 1] == ASCII.quote || text[index + 1] == ASCII.backslash
            {
                value.append(text[index + 1])
                index += 2
                continue
            }
            index += 1
            if byte == ASCII.quote {
                closed = true
                break
            }
            value.append(byte)
        }
        guard closed else { return .failure("the quoted value has no closing '\"'") }
        let rest = text[index...].trimmed()
        if let next = rest.first, next != ASCII.semicolon, next != ASCII.hash {
            return .failure(
                "unexpected text after the closing quote: '\(quote(rest))'; quote the whole value or none of it")
        }
        return .success(String(decoding: value, as: UTF8.self))
    }

    /// An unquoted value runs to the first `;` or `#` that follows whitespace and is not inside double quotes (so
    /// `fallback = 200 application/json {"tag":"#1"}` keeps its body), trimmed.
    private static func unquotedValue(_ text: ArraySlice<UInt8>, from start: Int) -> ArraySlice<UInt8> {
        var inQuotes = false
        var index = start
        while index < text.endIndex {
            let byte = text[index]
            if byte == ASCII.quote {
                inQuotes.toggle()
            } else if inQuotes, byte == ASCII.backslash {
                index += 1
            } else if !inQuotes, byte == ASCII.semicolon || byte == ASCII.hash, index > text.startIndex,
                ASCII.isSpace(text[index - 1])
            {
                return text[start..<index].trimmed()
            }
            index += 1
        }
        return text[start...].trimmed()
    }

    /// Bytes for an error message: at most 60 characters of them.
    private static func quote(_ bytes: some Collection<UInt8>) -> String {
        let text = String(decoding: bytes, as: UTF8.self)
        return text.count > 60 ? String(text.prefix(57)) + "..." : text
    }
}

/// The bytes the INI grammar is made of.
enum ASCII {
    static let newline = UInt8(ascii: "\n")
    static let carriageReturn = UInt8(ascii: "\r")
    static let semicolon = UInt8(ascii: ";")
    static let hash = UInt8(ascii: "#")
    static let equals = UInt8(ascii: "=")
    static let quote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t")
    }

    /// `[a-z0-9_]`
    static func isKeyByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"): true
        default: false
        }
    }

    /// `[A-Za-z0-9_.-]`: section kinds and names, zones.
    static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "-"):
            true
        default: false
        }
    }
}

extension ArraySlice<UInt8> {
    /// Without leading and trailing spaces and tabs.
    func trimmed() -> ArraySlice<UInt8> {
        var slice = self
        while let first = slice.first, ASCII.isSpace(first) { slice = slice.dropFirst() }
        while let last = slice.last, ASCII.isSpace(last) { slice = slice.dropLast() }
        return slice
    }
}
