/// Gives an `INIDocument` its meaning: a `GatewayConfig`, and every error found on the way.
///
/// Validation never stops at the first problem. A bad value is reported and replaced by its default, a bad section
/// is reported and skipped, and checking goes on, so that one `sluiced -t` run lists everything to fix, each error
/// with its file, line, section and key.
struct ConfigValidator {
    var errors: [ConfigError] = []

    /// A route as read, with what the cross-checks (upstream names, router conflicts) need to place their errors.
    struct ReadRoute {
        var config: RouteConfig
        var matchEntry: INIEntry?
        var upstreamEntry: INIEntry?
        /// `match` is present and a valid router pattern.
        var patternValid: Bool
    }

    /// The config `document` describes. Meaningful only when `errors` is empty afterwards.
    mutating func validate(_ document: INIDocument) -> GatewayConfig {
        var servers: [INISection] = []
        var upstreamSections: [INISection] = []
        var routeSections: [INISection] = []
        var protectionSections: [INISection] = []
        var rateLimitSections: [INISection] = []
        var tlsSections: [INISection] = []
        var firstByName: [String: INISection] = [:]
        for section in document.sections {
            guard let kind = SectionKind(rawValue: section.kind) else {
                reportUnknownSection(section)
                continue
            }
            if kind.takesName {
                guard let name = section.name else {
                    errors.append(
                        ConfigError(
                            location: section.location, section: section.header,
                            message: "a section without a name; write \(kind.example)"))
                    continue
                }
                let identity = "\(kind.rawValue) \(name)"
                if let first = firstByName[identity] {
                    errors.append(
                        ConfigError(
                            location: section.location, section: section.header,
                            message: "defined twice (first at \(first.location)); section names must be unique"))
                    continue
                }
                firstByName[identity] = section
            } else if section.name != nil {
                errors.append(
                    ConfigError(
                        location: section.location, section: section.header,
                        message: "\(kind.example) takes no name; write \(kind.example)"))
            }
            switch kind {
            case .server: servers.append(section)
            case .upstream: upstreamSections.append(section)
            case .route: routeSections.append(section)
            case .protection: protectionSections.append(section)
            case .ratelimit: rateLimitSections.append(section)
            case .tls: tlsSections.append(section)
            }
        }

        let server = readServer(servers, mainFile: document.files.first ?? "<memory>")
        let upstreams = upstreamSections.map { readUpstream($0) }
        let routes = routeSections.map { readRoute($0) }
        checkUpstreamNames(routes, upstreams: upstreams)
        checkConflicts(routes)
        var config = GatewayConfig(
            server: server, upstreams: upstreams, routes: routes.map(\.config), files: document.files)
        config.protection = readProtection(protectionSections)
        config.globalRateLimit = readGlobalRateLimit(rateLimitSections)
        checkGlobalScopes(routes, backend: config.globalRateLimit)
        config.tls = readTLS(tlsSections) { path throws(FileSystem.Failure) in try FileSystem.readText(path) }
        checkTLSListeners(config)
        return config
    }

    private mutating func reportUnknownSection(_ section: INISection) {
        let kinds = SectionKind.allCases.map(\.rawValue)
        var message = "unknown section; "
        let lowered = section.kind.lowercased()
        if let close = kinds.contains(lowered) ? lowered : Suggestion.closest(to: lowered, in: kinds) {
            let suggested = INISection(kind: close, name: section.name, location: section.location).header
            message += "did you mean \(suggested)?"
        } else {
            message += "expected [server], [upstream NAME], [route NAME], [protection], [ratelimit] or [tls]"
        }
        errors.append(ConfigError(location: section.location, section: section.header, message: message))
    }

    /// Every route's `upstream` names an `[upstream]` section.
    private mutating func checkUpstreamNames(_ routes: [ReadRoute], upstreams: [UpstreamConfig]) {
        let names = upstreams.map(\.name)
        for route in routes {
            guard let entry = route.upstreamEntry else { continue }
            for name in route.config.allUpstreams where !names.contains(name) {
            var message = "no [upstream] named '\(name)'"
            if let close = Suggestion.closest(to: name, in: names) {
                message += "; did you mean '\(close)'?"
            } else if names.isEmpty {
                message += "; add an [upstream \(name)] section with its servers"
            } else {
                message += "; the upstreams are " + names.map { "'\($0)'" }.joined(separator: ", ")
            }
            let section = "[route \(route.config.name)]"
            let key = route.config.canary?.upstream == name && !route.config.splits.contains { $0.upstream == name }
                ? "canary" : "upstream"
            errors.append(ConfigError(location: entry.location, section: section, key: key, message: message))
            }
        }
    }

    // MARK: Value checks shared by the sections

    /// A zone, section or upstream name: letters, digits, `_`, `.`, `-`.
    static func isName(_ text: some StringProtocol) -> Bool {
        !text.isEmpty && text.utf8.allSatisfy(ASCII.isNameByte)
    }

    /// Reads a `zone` value.
    static func zone(_ text: String) throws(ValueError) -> String {
        let zone = text.trimmedSpaces
        guard isName(zone) else {
            throw ValueError(expected: "a zone name like az1 (letters, digits, '_', '.' and '-')", got: zone)
        }
        return String(zone)
    }
}
