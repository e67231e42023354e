/// An INI file as written, before any meaning is given to it: sections of `key = value` entries, each with its
/// place in the file. `INIParser` builds it; `ConfigValidator` turns it into a `GatewayConfig`.
public struct INIDocument: Sendable, Equatable {
    /// In reading order. Sections of included files follow the `[server]` section that included them.
    public var sections: [INISection]
    /// Every file read, the main one first.
    public var files: [String]
    /// Lines that could not be read as INI (and include failures). Those lines are left out of `sections`.
    public var errors: [ConfigError]

    public init(sections: [INISection] = [], files: [String] = [], errors: [ConfigError] = []) {
        self.sections = sections
        self.files = files
        self.errors = errors
    }
}

/// `[kind name]` and the entries under it, in order.
public struct INISection: Hashable, Sendable {
    /// `server`, `upstream`, `route`, or whatever else was written (the validator rejects unknown kinds).
    public var kind: String
    /// The name after the kind; nil for `[server]`.
    public var name: String?
    /// The line of the header.
    public var location: SourceLocation
    /// Every `key = value` line, in order. A key written twice appears twice: repeated keys build lists.
    public var entries: [INIEntry]

    public init(kind: String, name: String?, location: SourceLocation, entries: [INIEntry] = []) {
        self.kind = kind
        self.name = name
        self.location = location
        self.entries = entries
    }

    /// The header the way it is written in a file, `[route users]`: errors name sections this way.
    public var header: String {
        name.map { "[\(kind) \($0)]" } ?? "[\(kind)]"
    }

    /// Every entry for `key`, in order.
    public func entries(_ key: String) -> [INIEntry] {
        entries.filter { $0.key == key }
    }
}

/// One `key = value` line. The value has its quotes and escapes removed and the comment after it cut off.
public struct INIEntry: Hashable, Sendable {
    public var key: String
    public var value: String
    public var location: SourceLocation

    public init(key: String, value: String, location: SourceLocation) {
        self.key = key
        self.value = value
        self.location = location
    }
}
