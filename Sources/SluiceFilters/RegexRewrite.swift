#if canImport(Glibc)
import Glibc
#endif

/// `rewrite`: a POSIX extended regular expression over the normalised path and its replacement, with `$0`…`$9`
/// captures and `:name` / `*name` path parameters (`^/old/(.*)$ /new/$1`); or one path that replaces the whole
/// path (`/v1/people/:id`, Traefik's ReplacePath). A trailing `redirect` or `permanent` answers 302 or 301 to the
/// result instead of forwarding it (nginx's flags). Compiled once, at load.
public struct RegexRewrite: Hashable, Sendable {
    /// How the result is used.
    public enum Flag: Hashable, Sendable {
        case forward, redirect, permanent
    }

    /// The text as written.
    public let text: String
    let regex: CompiledRegex?
    let replacement: [Part]
    public let flag: Flag

    /// A piece of the replacement.
    enum Part: Hashable, Sendable {
        case text(String)
        case capture(Int)
        case param(String)
    }

    static let expected = "REGEX REPLACEMENT [redirect|permanent], like ^/old/(.*)$ /new/$1, or a path like /v1/people/:id"

    public static func parse(_ text: some StringProtocol) throws(FilterSyntaxError) -> RegexRewrite {
        var words = Substring(text).split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        var flag = Flag.forward
        if let last = words.last, words.count >= 2, last == "redirect" || last == "permanent" {
            flag = last == "redirect" ? .redirect : .permanent
            words.removeLast()
        }
        switch words.count {
        case 1:
            guard words[0].hasPrefix("/") else { throw FilterSyntaxError(expected: expected, got: text) }
            return RegexRewrite(text: String(text), regex: nil, replacement: try parts(words[0]), flag: flag)
        case 2:
            let regex = try CompiledRegex(words[0])
            let replacement = try parts(words[1])
            for case .capture(let index) in replacement where index > regex.groups {
                throw FilterSyntaxError(expected: "a capture the expression has ($0..$\(regex.groups))", got: "$\(index)")
            }
            guard words[1].hasPrefix("/") || (flag != .forward && words[1].contains("://")) else {
                throw FilterSyntaxError(expected: "a replacement that starts with / (\(expected))", got: words[1])
            }
            return RegexRewrite(text: String(text), regex: regex, replacement: replacement, flag: flag)
        default:
            throw FilterSyntaxError(expected: expected, got: text)
        }
    }

    /// `/new/$1/:id` in pieces.
    static func parts(_ text: String) throws(FilterSyntaxError) -> [Part] {
        var parts: [Part] = []
        var literal = ""
        let bytes = Array(text.utf8)
        var index = 0
        func isName(_ byte: UInt8) -> Bool {
            (byte >= 97 && byte <= 122) || (byte >= 65 && byte <= 90) || (byte >= 48 && byte <= 57) || byte == 95
        }
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "$"), index + 1 < bytes.count, bytes[index + 1] >= 48, bytes[index + 1] <= 57 {
                if !literal.isEmpty { parts.append(.text(literal)) }
                literal = ""
                parts.append(.capture(Int(bytes[index + 1] - 48)))
                index += 2
            } else if (byte == UInt8(ascii: ":") || byte == UInt8(ascii: "*")), index + 1 < bytes.count,
                isName(bytes[index + 1]), index == 0 || bytes[index - 1] == UInt8(ascii: "/")
            {
                var end = index + 1
                while end < bytes.count, isName(bytes[end]) { end += 1 }
                if !literal.isEmpty { parts.append(.text(literal)) }
                literal = ""
                parts.append(.param(String(decoding: bytes[(index + 1)..<end], as: UTF8.self)))
                index = end
            } else {
                guard byte > 0x20, byte < 0x7F, byte != UInt8(ascii: "?"), byte != UInt8(ascii: "#") else {
                    throw FilterSyntaxError(expected: "a path without spaces, ? or #", got: text)
                }
                literal.append(Character(Unicode.Scalar(byte)))
                index += 1
            }
        }
        if !literal.isEmpty { parts.append(.text(literal)) }
        return parts
    }

    /// The rewritten path, or nil when the expression does not match.
    public func apply(_ path: Substring, params: (String) -> Substring?) -> String? {
        guard let regex else { return render(in: path, params: params) { _ in nil } }
        if let shortcut = regex.shortcut {
            // `^/literal(.*)$` and the like: byte offsets without `regexec` or a match array.
            switch shortcut.match(path.utf8) {
            case .matched(let end, let group):
                return render(in: path, params: params) { index in index == 0 ? 0..<end : index == 1 ? group : nil }
            case .unmatched:
                return nil
            case .undecided:
                break
            }
        }
        return regex.match(path, useShortcut: false) { captures in
            render(in: path, params: params) { index in
                guard index < captures.count, captures[index].rm_so >= 0 else { return nil }
                return Int(captures[index].rm_so)..<Int(captures[index].rm_eo)
            }
        }
    }

    /// The replacement for `path`, with `captures` giving each group's byte offsets in it (nil: took no part).
    private func render(
        in path: Substring, params: (String) -> Substring?, captures: (Int) -> Range<Int>?
    ) -> String {
        if replacement.count == 1, case .text(let text) = replacement[0] { return text }
        let utf8 = path.utf8
        func capture(_ index: Int) -> Substring.UTF8View.SubSequence? {
            guard let range = captures(index) else { return nil }
            let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
            let end = utf8.index(utf8.startIndex, offsetBy: range.upperBound)
            return utf8[start..<end]
        }
        // The length first, then the bytes into one exactly sized string.
        var length = 0
        for part in replacement {
            switch part {
            case .text(let text): length += text.utf8.count
            case .capture(let index): length += capture(index)?.count ?? 0
            case .param(let name): length += params(name)?.utf8.count ?? 0
            }
        }
        return String(unsafeUninitializedCapacity: length) { buffer in
            var at = 0
            func copy(_ bytes: some Collection<UInt8>) {
                for byte in bytes where at < buffer.count {
                    buffer[at] = byte
                    at += 1
                }
            }
            for part in replacement {
                switch part {
                case .text(let text): copy(text.utf8)
                case .capture(let index): if let bytes = capture(index) { copy(bytes) }
                case .param(let name): if let value = params(name) { copy(value.utf8) }
                }
            }
            return at
        }
    }

    public static func == (a: RegexRewrite, b: RegexRewrite) -> Bool { a.text == b.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}

/// A POSIX extended regular expression, compiled once (`regcomp`); `regexec` may run on any thread at once (it
/// only reads the compiled form, kept behind a pointer so that Swift never sees it mutated).
final class CompiledRegex: @unchecked Sendable, Hashable {
    private let regex: UnsafeMutablePointer<regex_t>
    let pattern: String
    /// Parenthesised groups.
    let groups: Int
    /// `^/literal/(.*)$` and the like, matched without the regex engine (glibc's `regexec` allocates per call).
    let shortcut: PrefixPattern?

    init(_ pattern: String) throws(FilterSyntaxError) {
        self.pattern = pattern
        regex = .allocate(capacity: 1)
        regex.initialize(to: regex_t())
        let status = regcomp(regex, pattern, REG_EXTENDED)
        guard status == 0 else {
            var buffer = [CChar](repeating: 0, count: 256)
            regerror(status, regex, &buffer, buffer.count)
            regex.deallocate()
            let message = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            throw FilterSyntaxError(expected: "a POSIX extended regular expression (\(message))", got: pattern)
        }
        groups = Int(regex.pointee.re_nsub)
        shortcut = PrefixPattern(pattern)
    }

    deinit {
        regfree(regex)
        regex.deallocate()
    }

    /// Matches `text`; on a match, `body` gets the byte offsets of the whole match and each group (`rm_so` -1 for a
    /// group that took no part). glibc's `REG_STARTEND` matches the bytes in place: no copy, no terminating NUL.
    func match<T>(
        _ text: Substring, useShortcut: Bool = true, _ body: (UnsafeMutableBufferPointer<regmatch_t>) -> T
    ) -> T? {
        let count = groups + 1
        return withUnsafeTemporaryAllocation(of: regmatch_t.self, capacity: count) { matches -> T? in
            if useShortcut, let shortcut {
                switch shortcut.match(text.utf8) {
                case .matched(let end, let group):
                    matches[0] = regmatch_t(rm_so: 0, rm_eo: regoff_t(end))
                    if let group, count > 1 { matches[1] = regmatch_t(rm_so: regoff_t(group.lowerBound), rm_eo: regoff_t(group.upperBound)) }
                    return body(matches)
                case .unmatched:
                    return nil
                case .undecided:
                    break
                }
            }
            let run = { (bytes: UnsafeBufferPointer<UInt8>) -> Int32 in
                matches[0].rm_so = 0
                matches[0].rm_eo = regoff_t(bytes.count)
                return bytes.withMemoryRebound(to: CChar.self) { chars in
                    // A non-nil base even for an empty path (REG_STARTEND reads nothing then).
                    withUnsafePointer(to: CChar(0)) { empty in
                        regexec(self.regex, chars.baseAddress ?? empty, count, matches.baseAddress, REG_STARTEND)
                    }
                }
            }
            let status = text.utf8.withContiguousStorageIfAvailable(run) ?? Array(text.utf8).withUnsafeBufferPointer(run)
            guard status == 0 else { return nil }
            return body(matches)
        }
    }

    static func == (a: CompiledRegex, b: CompiledRegex) -> Bool { a.pattern == b.pattern }
    func hash(into hasher: inout Hasher) { hasher.combine(pattern) }
}
