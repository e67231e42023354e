import SluiceRouter

extension ConfigValidator {
    /// `[route NAME]`.
    mutating func readRoute(_ section: INISection) -> ReadRoute {
        let reader = SectionReader(
            kind: .route, header: section.header, location: section.location, entries: section.entries,
            errors: &errors)
        let matchEntry = reader.required("match", example: "/api/v1/users/*", errors: &errors)
        var patternValid = false
        if let matchEntry {
            do {
                _ = try RoutePattern(matchEntry.value)
                patternValid = true
            } catch {
                errors.append(reader.error(matchEntry, "invalid route pattern '\(matchEntry.value)': \(error.detail)"))
            }
        }
        // A route that answers itself (`return`) needs no upstream.
        let upstreamEntry = reader.entry("return") != nil
            ? reader.entry("upstream") : reader.required("upstream", example: "users", errors: &errors)
        let splits = reader.value("upstream", default: [UpstreamSplit]?.none, errors: &errors) { text throws(ValueError) in
            try UpstreamSplit.parseList(text)
        }
        let retryPolicy = reader.value("retries", default: RetryPolicy(), errors: &errors) { text throws(ValueError) in
            try RetryPolicy.parse(text)
        }
        var config = RouteConfig(
            name: section.name ?? "",
            match: matchEntry?.value ?? "",
            hosts: readHosts(reader),
            methods: readMethods(reader),
            upstream: splits?.first?.upstream ?? upstreamEntry?.value ?? "",
            timeout: reader.duration(
                "timeout", default: RouteConfig.defaultTimeout, in: Bounds.positiveDay, errors: &errors),
            idleTimeout: reader.duration(
                "idle_timeout", default: RouteConfig.defaultIdleTimeout, in: Bounds.positiveDay, errors: &errors),
            retries: retryPolicy.retries,
            hostRewrite: reader.value("host_rewrite", default: String?.none, errors: &errors) {
                text throws(ValueError) in
                let text = text.trimmedSpaces
                guard Self.isHostHeader(text) else {
                    throw ValueError(expected: "a host like users.internal or users.internal:8080", got: text)
                }
                return String(text)
            },
            splits: splits,
            splitKey: reader.value("split_key", default: HashKey?.none, errors: &errors) { text throws(ValueError) in
                try HashKey.parse(text)
            },
            canary: reader.value("canary", default: CanaryRule?.none, errors: &errors) { text throws(ValueError) in
                try CanaryRule.parse(text)
            },
            retryPolicy: retryPolicy,
            retryNonIdempotent: reader.boolean("retry_non_idempotent", default: false, errors: &errors),
            location: section.location)
        readRouteTraffic(reader, into: &config)
        readRouteEdge(reader, into: &config)
        readRouteFilters(reader, into: &config)
        return ReadRoute(
            config: config, matchEntry: matchEntry, upstreamEntry: upstreamEntry, patternValid: patternValid)
    }

    /// `host` lines, each one name or several separated by commas: lowercased, without repeats.
    private mutating func readHosts(_ reader: SectionReader) -> [String] {
        var hosts: [String] = []
        for entry in reader.entries("host") {
            for item in entry.value.split(separator: ",", omittingEmptySubsequences: false) {
                let host = item.trimmedSpaces.lowercased()
                guard Self.isHostPattern(host) else {
                    let got = item.trimmedSpaces
                    let expected = "a host name like api.example.com or *.example.com"
                    errors.append(reader.error(entry, ValueError(expected: expected, got: got).description))
                    continue
                }
                if !hosts.contains(host) { hosts.append(host) }
            }
        }
        return hosts
    }

    /// `methods = GET, POST`: uppercased HTTP method tokens, without repeats.
    private mutating func readMethods(_ reader: SectionReader) -> [String] {
        guard let entry = reader.entry("methods") else { return [] }
        var methods: [String] = []
        let items = entry.value.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
        if items.isEmpty {
            errors.append(reader.error(entry, ValueError(expected: "methods like GET, POST", got: "").description))
        }
        for item in items {
            let method = item.uppercased()
            guard method.utf8.allSatisfy(Self.isTokenByte) else {
                errors.append(
                    reader.error(entry, ValueError(expected: "HTTP methods like GET, POST", got: item).description))
                continue
            }
            if !methods.contains(method) { methods.append(method) }
        }
        return methods
    }

    /// `api.example.com` or `*.example.com`.
    static func isHostPattern(_ host: String) -> Bool {
        let name = host.hasPrefix("*.") ? host.dropFirst(2) : host[...]
        return HostPort.isHostName(name) && !name.hasPrefix(".") && !name.hasSuffix(".") && !name.contains("..")
    }

    /// A Host header value: a name or address, with an optional port.
    static func isHostHeader(_ text: Substring) -> Bool {
        (try? HostPort.parse(text, defaultHost: nil, ports: 1...65535, expected: "")) != nil
            || HostPort.isHostName(text)
    }

    /// RFC 9110 §5.6.2 `tchar`: what a method token is made of.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
