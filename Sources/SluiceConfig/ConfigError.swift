/// One thing wrong with a configuration, placed as precisely as the loader can: file, line, section and key.
///
/// The message says what was expected and what was found, so that an operator can fix the line without reading the
/// documentation: `sluice.ini:12: [route users] upstream: no [upstream] named 'usrs'; did you mean 'users'?`
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    /// Where the problem is; line 0 for the file as a whole. Nil only when there is no file to name.
    public var location: SourceLocation?
    /// The section header as written in the file's form, e.g. `[route users]`.
    public var section: String?
    public var key: String?
    /// What was expected, and what was found.
    public var message: String

    public init(location: SourceLocation?, section: String? = nil, key: String? = nil, message: String) {
        self.location = location
        self.section = section
        self.key = key
        self.message = message
    }

    /// `file:line: [section] key: message`, leaving out the parts that are nil (and the line when it is 0).
    public var description: String {
        var text = ""
        if let location {
            text += location.line > 0 ? "\(location): " : "\(location.file): "
        }
        if let section { text += section + " " }
        if let key { text += key + ": " }
        return text + message
    }
}

/// Every problem found in a configuration. The loader collects them all, so that one run shows the operator
/// everything to fix rather than one error at a time.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible {
    /// In file order (the main file first, then included files as they were read), then line order.
    public var errors: [ConfigError]

    public init(_ errors: [ConfigError]) {
        self.errors = errors
    }

    /// One error per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }

    /// Sorts `errors` by file (in the order of `files`; errors in unknown files or without a place come first) and
    /// line. Stable, so errors on one line keep the order they were found in.
    mutating func sort(files: [String]) {
        var rank: [String: Int] = [:]
        for (index, file) in files.enumerated() where rank[file] == nil { rank[file] = index }
        errors = errors.enumerated().sorted { left, right in
            let l = Self.key(left.element, rank)
            let r = Self.key(right.element, rank)
            return l != r ? l.lexicographicallyPrecedes(r) : left.offset < right.offset
        }.map(\.element)
    }

    private static func key(_ error: ConfigError, _ rank: [String: Int]) -> [Int] {
        guard let location = error.location else { return [-1, 0] }
        return [rank[location.file] ?? -1, location.line]
    }
}
