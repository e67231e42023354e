/// Reads the entries of one section (or of all `[server]` sections, merged) against the section's keys.
///
/// Creating it reports unknown keys and single-valued keys given twice; the typed readers then report bad values.
/// Every reader falls back to the default after an error, so that validation carries on and reports the rest.
struct SectionReader {
    let kind: SectionKind
    /// `[route users]`, as errors name it.
    let header: String
    /// The header's line: where missing keys are reported.
    let location: SourceLocation
    /// The known entries, duplicates of single-valued keys left out.
    private let known: [INIEntry]

    init(kind: SectionKind, header: String, location: SourceLocation, entries: [INIEntry], errors: inout [ConfigError])
    {
        self.kind = kind
        self.header = header
        self.location = location
        let specs = kind.keys
        var firstSeen: [String: INIEntry] = [:]
        var known: [INIEntry] = []
        for entry in entries {
            // `include` is followed (or refused) while files are read, before validation.
            if entry.key == "include" && kind != .server { continue }
            guard let spec = specs.first(where: { $0.name == entry.key }) else {
                errors.append(
                    ConfigError(
                        location: entry.location, section: header, key: entry.key,
                        message: Self.unknownKeyMessage(entry.key, in: kind)))
                continue
            }
            if !spec.repeatable, let first = firstSeen[entry.key] {
                errors.append(
                    ConfigError(
                        location: entry.location, section: header, key: entry.key,
                        message: "given twice (first at \(first.location)); only one is allowed"))
                continue
            }
            firstSeen[entry.key] = firstSeen[entry.key] ?? entry
            known.append(entry)
        }
        self.known = known
    }

    /// "did you mean" a key of this section, or else the section the key belongs to, or else the list of keys.
    static func unknownKeyMessage(_ key: String, in kind: SectionKind) -> String {
        let names = kind.keys.map(\.name).filter { $0 != "include" }
        if let close = Suggestion.closest(to: key, in: names) { return "unknown key; did you mean '\(close)'?" }
        if let home = SectionKind.allCases.first(where: { $0 != kind && $0.keys.contains { $0.name == key } }) {
            let section = home.takesName ? "[\(home.rawValue) NAME]" : "[\(home.rawValue)]"
            return "unknown key; '\(key)' belongs in \(section)"
        }
        return "unknown key; [\(kind.rawValue)] takes " + names.joined(separator: ", ")
    }

    /// The entry for a single-valued key.
    func entry(_ key: String) -> INIEntry? {
        known.first { $0.key == key }
    }

    /// Every entry for a repeatable key, in order.
    func entries(_ key: String) -> [INIEntry] {
        known.filter { $0.key == key }
    }

    func error(_ entry: INIEntry, _ message: String) -> ConfigError {
        ConfigError(location: entry.location, section: header, key: entry.key, message: message)
    }

    /// The entry for a required key, or an error at the header that says what to add.
    func required(_ key: String, example: String, errors: inout [ConfigError]) -> INIEntry? {
        if let entry = entry(key) { return entry }
        errors.append(
            ConfigError(
                location: location, section: header, key: key,
                message: "missing; [\(kind.rawValue)] needs '\(key)', like \(key) = \(example)"))
        return nil
    }

    /// The value of `key` read by `parse`; `defaultValue` when absent or bad (and then an error).
    func value<T>(
        _ key: String, default defaultValue: T, errors: inout [ConfigError],
        _ parse: (String) throws(ValueError) -> T
    ) -> T {
        guard let entry = entry(key) else { return defaultValue }
        do {
            return try parse(entry.value)
        } catch {
            errors.append(self.error(entry, error.description))
            return defaultValue
        }
    }

    /// Every entry for the repeatable `key`, each read by `parse`; a bad one is reported and left out.
    func values<T>(
        _ key: String, errors: inout [ConfigError], _ parse: (INIEntry) throws(ValueError) -> T
    ) -> [T] {
        var values: [T] = []
        for entry in entries(key) {
            do {
                values.append(try parse(entry))
            } catch {
                errors.append(self.error(entry, error.description))
            }
        }
        return values
    }

    /// A duration within `range` (every duration key states one: see `Bounds`).
    func duration(
        _ key: String, default defaultValue: Duration, in range: ClosedRange<Duration>, errors: inout [ConfigError]
    ) -> Duration {
        value(key, default: defaultValue, errors: &errors) { text throws(ValueError) in
            try ValueParsing.duration(text, in: range)
        }
    }

    func integer(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>, errors: inout [ConfigError])
        -> Int
    {
        value(key, default: defaultValue, errors: &errors) { text throws(ValueError) in
            try ValueParsing.integer(text, in: range)
        }
    }

    /// A size in bytes within `range`.
    func size(_ key: String, default defaultValue: Int, in range: ClosedRange<Int>, errors: inout [ConfigError])
        -> Int
    {
        value(key, default: defaultValue, errors: &errors) { text throws(ValueError) in
            try ValueParsing.size(text, in: range)
        }
    }

    func boolean(_ key: String, default defaultValue: Bool, errors: inout [ConfigError]) -> Bool {
        value(key, default: defaultValue, errors: &errors) { text throws(ValueError) in
            try ValueParsing.boolean(text)
        }
    }

    func choice<T: RawRepresentable & CaseIterable>(_ key: String, default defaultValue: T, errors: inout [ConfigError])
        -> T
    where T.RawValue == String {
        value(key, default: defaultValue, errors: &errors) { text throws(ValueError) in
            try ValueParsing.choice(text, T.allCases.map { ($0.rawValue, $0) })
        }
    }
}
