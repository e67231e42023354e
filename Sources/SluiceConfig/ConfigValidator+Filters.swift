import SluiceFilters
import SluiceTraffic

extension ConfigValidator {
    /// The API-gateway keys of a `[route]`: rewrites, header rules, `return`, `cors`, `allow`/`deny`, `auth…`,
    /// `mirror`.
    mutating func readRouteFilters(_ reader: SectionReader, into config: inout RouteConfig) {
        var filters = RouteFiltersConfig()
        filters.rewrite.stripPrefix = reader.value("strip_prefix", default: String?.none, errors: &errors) {
            text throws(ValueError) in try Self.filter { () throws(FilterSyntaxError) in try PathRewrite.prefix(text) }
        }
        filters.rewrite.addPrefix = reader.value("add_prefix", default: String?.none, errors: &errors) {
            text throws(ValueError) in try Self.filter { () throws(FilterSyntaxError) in try PathRewrite.prefix(text) }
        }
        filters.rewrite.rewrite = reader.value("rewrite", default: RegexRewrite?.none, errors: &errors) {
            text throws(ValueError) in try Self.filter { () throws(FilterSyntaxError) in try RegexRewrite.parse(text) }
        }
        filters.requestHeaders = reader.values("request_header", errors: &errors) { entry throws(ValueError) in
            try Self.filter { () throws(FilterSyntaxError) in try HeaderRule.parse(entry.value) }
        }
        filters.responseHeaders = reader.values("response_header", errors: &errors) { entry throws(ValueError) in
            try Self.filter { () throws(FilterSyntaxError) in try HeaderRule.parse(entry.value) }
        }
        for hidden in reader.values("hide_header", errors: &errors, { entry throws(ValueError) in
            try Self.filter { () throws(FilterSyntaxError) in try HeaderRule.hidden(entry.value) }
        }) {
            filters.responseHeaders += hidden
        }
        filters.directAnswer = reader.value("return", default: DirectAnswer?.none, errors: &errors) {
            text throws(ValueError) in try Self.filter { () throws(FilterSyntaxError) in try DirectAnswer.parse(text) }
        }
        filters.cors = reader.value("cors", default: CORSPolicy?.none, errors: &errors) { text throws(ValueError) in
            try Self.filter { () throws(FilterSyntaxError) in try CORSPolicy.parse(text) }
        }
        let allow = reader.values("allow", errors: &errors) { entry throws(ValueError) in
            try Self.filter { () throws(FilterSyntaxError) in try AccessRules.parseList(entry.value) }
        }.flatMap { $0 }
        let deny = reader.values("deny", errors: &errors) { entry throws(ValueError) in
            try Self.filter { () throws(FilterSyntaxError) in try AccessRules.parseList(entry.value) }
        }.flatMap { $0 }
        if !allow.isEmpty || !deny.isEmpty { filters.access = AccessRules(allow: allow, deny: deny) }
        filters.auth = readAuth(reader)
        filters.mirror = reader.value("mirror", default: MirrorConfig?.none, errors: &errors) {
            text throws(ValueError) in try Self.mirror(text)
        }
        if let answer = filters.directAnswer, let entry = reader.entry("return") {
            for key in ["upstream", "strip_prefix", "add_prefix", "rewrite", "request_header", "mirror"]
            where reader.entry(key) != nil {
                let what = key == "upstream" ? "an upstream" : "'\(key)'"
                errors.append(reader.error(entry, "a route that answers itself (return = \(answer.status)) has no use for \(what); remove one of them"))
            }
        }
        if filters.auth == nil, config.rateLimits.contains(where: { $0.key == .identity }),
            let entry = reader.entries("rate_limit").first(where: { $0.value.contains("key=identity") })
        {
            errors.append(reader.error(entry, "key=identity needs 'auth' on the route (the identity is who auth says the caller is)"))
        }
        config.filters = filters
    }

    /// A filter's own syntax error as the configuration's `ValueError`.
    static func filter<T>(_ parse: () throws(FilterSyntaxError) -> T) throws(ValueError) -> T {
        do {
            return try parse()
        } catch {
            throw ValueError(expected: error.expected, got: error.got)
        }
    }

    /// `mirror = UPSTREAM [percent=10] [max_body=64k] [max_in_flight=100]`.
    static func mirror(_ text: String) throws(ValueError) -> MirrorConfig {
        let words = ValueParsing.options(text)
        guard let first = words.first, first.name == nil, !first.value.isEmpty else {
            throw ValueError(expected: "an upstream name, optionally percent=10 max_body=64k max_in_flight=100", got: text)
        }
        var config = MirrorConfig(upstream: first.value)
        for word in words.dropFirst() {
            switch word.name {
            case "percent":
                // `percent=10` or `percent=10%`.
                config.share = try word.read { text throws(ValueError) in
                    try ValueParsing.percentage(text.hasSuffix("%") ? text : text + "%")
                }
            case "max_body":
                config.maxBody = try word.read { text throws(ValueError) in try ValueParsing.size(text, in: 0...(16 << 20)) }
            case "max_in_flight":
                config.maxInFlight = try word.read { text throws(ValueError) in
                    try ValueParsing.integer(text, in: 1...100_000)
                }
            default:
                throw ValueError(expected: "percent=N%, max_body=SIZE or max_in_flight=N", got: word.name.map { "\($0)=\(word.value)" } ?? word.value)
            }
        }
        return config
    }

    /// `auth = jwt | api_key | basic | forward URL` and the keys of its kind; other kinds' keys are errors.
    private mutating func readAuth(_ reader: SectionReader) -> AuthConfig? {
        let jwtKeys = ["jwt_keys", "jwt_issuer", "jwt_audience", "jwt_leeway", "jwt_required_claims",
                       "jwt_identity_claim", "jwt_claim_header", "jwt_from"]
        let apiKeys = ["api_keys", "api_key_from"]
        let basicKeys = ["htpasswd", "auth_realm"]
        let forwardKeys = ["forward_auth_timeout", "forward_auth_request_headers", "forward_auth_response_headers",
                           "forward_auth_identity_header", "auth_failure"]
        let common = ["auth_identity_header", "auth_cache", "auth_cache_size"]
        guard let entry = reader.entry("auth") else {
            for key in jwtKeys + apiKeys + basicKeys + forwardKeys + common {
                if let stray = reader.entry(key) {
                    errors.append(reader.error(stray, "'\(key)' needs 'auth' on the route, like auth = jwt"))
                }
            }
            return nil
        }
        let words = entry.value.split(whereSeparator: { $0 == " " || $0 == "\t" })
        let kindName = words.first.map(String.init) ?? ""
        let own: [String]
        var kind: AuthConfig.Kind
        switch kindName {
        case "jwt":
            own = jwtKeys
            guard let file = requiredFile("jwt_keys", reader, example: "/etc/sluice/jwks.json") else { return nil }
            kind = .jwt(readJWT(reader, keysFile: file))
        case "api_key":
            own = apiKeys
            guard let file = requiredFile("api_keys", reader, example: "/etc/sluice/api-keys") else { return nil }
            let sources = reader.value("api_key_from", default: [CredentialSource.header("x-api-key")], errors: &errors) {
                text throws(ValueError) in try Self.credentialSources(text, cookies: false)
            }
            kind = .apiKey(file: file, sources: sources)
        case "basic":
            own = basicKeys
            guard let file = requiredFile("htpasswd", reader, example: "/etc/sluice/htpasswd") else { return nil }
            let realm = reader.value("auth_realm", default: "Sluice", errors: &errors) { text throws(ValueError) in
                let text = String(text.trimmedSpaces)
                guard !text.isEmpty, !text.contains("\""), !text.contains("\\"), text.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else {
                    throw ValueError(expected: "a realm name without quotes or backslashes", got: text)
                }
                return text
            }
            kind = .basic(file: file, realm: realm)
        case "forward":
            own = forwardKeys
            guard words.count == 2, let forward = try? Self.forwardURL(String(words[1])) else {
                errors.append(reader.error(entry, ValueError(expected: "forward http://HOST:PORT/PATH, like auth = forward http://127.0.0.1:9000/check", got: entry.value).description))
                return nil
            }
            kind = .forward(readForward(reader, forward))
        default:
            errors.append(reader.error(entry, ValueError(expected: "jwt, api_key, basic or forward URL", got: entry.value).description))
            return nil
        }
        if kindName != "forward" && words.count > 1 {
            errors.append(reader.error(entry, "auth = \(kindName) takes no more words; its settings are keys of their own"))
        }
        for key in jwtKeys + apiKeys + basicKeys + forwardKeys where !own.contains(key) {
            if let stray = reader.entry(key) {
                errors.append(reader.error(stray, "'\(key)' does not apply to auth = \(kindName)"))
            }
        }
        var config = AuthConfig(kind: kind, location: entry.location)
        config.identityHeader = reader.value("auth_identity_header", default: "x-auth-identity", errors: &errors) {
            text throws(ValueError) in try Self.headerName(text)
        }
        config.cacheFor = reader.duration("auth_cache", default: .seconds(30), in: .zero ... .seconds(3600), errors: &errors)
        config.cacheSize = reader.integer("auth_cache_size", default: 10_000, in: 0...10_000_000, errors: &errors)
        return config
    }

    private mutating func readJWT(_ reader: SectionReader, keysFile: String) -> JWTAuthConfig {
        var jwt = JWTAuthConfig(keysFile: keysFile)
        jwt.issuer = reader.value("jwt_issuer", default: String?.none, errors: &errors) { text throws(ValueError) in
            let text = String(text.trimmedSpaces)
            guard !text.isEmpty else { throw ValueError(expected: "an issuer like https://auth.example.com/", got: text) }
            return text
        }
        jwt.audiences = reader.value("jwt_audience", default: [], errors: &errors) { text throws(ValueError) in
            Self.list(text)
        }
        jwt.leeway = reader.duration("jwt_leeway", default: .seconds(30), in: .zero ... .seconds(600), errors: &errors)
        jwt.requiredClaims = reader.value("jwt_required_claims", default: [], errors: &errors) { text throws(ValueError) in
            Self.list(text)
        }
        jwt.identityClaim = reader.value("jwt_identity_claim", default: "sub", errors: &errors) { text throws(ValueError) in
            let text = String(text.trimmedSpaces)
            guard !text.isEmpty, !text.contains(" ") else { throw ValueError(expected: "a claim name like sub", got: text) }
            return text
        }
        jwt.claimHeaders = reader.values("jwt_claim_header", errors: &errors) { entry throws(ValueError) in
            let words = entry.value.split(whereSeparator: { $0 == " " || $0 == "\t" })
            guard words.count == 2 else {
                throw ValueError(expected: "CLAIM HEADER, like sub X-User-Id", got: entry.value)
            }
            return (claim: String(words[0]), header: try Self.headerName(words[1]))
        }
        jwt.sources = reader.value("jwt_from", default: [.header("authorization")], errors: &errors) {
            text throws(ValueError) in try Self.credentialSources(text, cookies: true)
        }
        return jwt
    }

    private mutating func readForward(_ reader: SectionReader, _ base: ForwardAuthConfig) -> ForwardAuthConfig {
        var forward = base
        forward.timeout = reader.duration(
            "forward_auth_timeout", default: .seconds(1), in: .milliseconds(1) ... .seconds(60), errors: &errors)
        forward.requestHeaders = reader.value("forward_auth_request_headers", default: forward.requestHeaders, errors: &errors) {
            text throws(ValueError) in try Self.list(text).map { name throws(ValueError) in try Self.headerName(name) }
        }
        forward.responseHeaders = reader.value("forward_auth_response_headers", default: [], errors: &errors) {
            text throws(ValueError) in try Self.list(text).map { name throws(ValueError) in try Self.headerName(name) }
        }
        forward.identityHeader = reader.value("forward_auth_identity_header", default: String?.none, errors: &errors) {
            text throws(ValueError) in try Self.headerName(text)
        }
        forward.failOpen = reader.value("auth_failure", default: false, errors: &errors) { text throws(ValueError) in
            try ValueParsing.choice(text, [("deny", false), ("allow", true)])
        }
        return forward
    }

    /// A file key the kind needs, resolved from the configuration file's folder; it must be readable now.
    private mutating func requiredFile(_ key: String, _ reader: SectionReader, example: String) -> String? {
        guard let entry = reader.required(key, example: example, errors: &errors) else { return nil }
        let path = Self.resolve(String(entry.value.trimmedSpaces), from: entry.location.file)
        do {
            _ = try FileSystem.readText(path)
        } catch {
            errors.append(reader.error(entry, "cannot read '\(path)': \(error)"))
            return nil
        }
        return path
    }

    /// `header:X-API-Key, query:api_key` (and `cookie:NAME` where allowed).
    static func credentialSources(_ text: String, cookies: Bool) throws(ValueError) -> [CredentialSource] {
        let expected = cookies ? "header:NAME, query:NAME or cookie:NAME" : "header:NAME or query:NAME"
        var sources: [CredentialSource] = []
        for item in list(text) {
            if item.hasPrefix("header:") {
                sources.append(.header(try headerName(item.dropFirst(7))))
            } else if item.hasPrefix("query:"), item.count > 6 {
                sources.append(.query(String(item.dropFirst(6))))
            } else if cookies, item.hasPrefix("cookie:"), item.count > 7 {
                sources.append(.cookie(String(item.dropFirst(7))))
            } else {
                throw ValueError(expected: expected, got: item)
            }
        }
        guard !sources.isEmpty else { throw ValueError(expected: expected, got: text) }
        return sources
    }

    /// `http://HOST:PORT/PATH` (plain HTTP: the auth service sits next to the gateway).
    static func forwardURL(_ text: String) throws(ValueError) -> ForwardAuthConfig {
        let expected = "http://HOST:PORT/PATH"
        guard text.hasPrefix("http://") else { throw ValueError(expected: expected, got: text) }
        let rest = text.dropFirst(7)
        let slash = rest.firstIndex(of: "/") ?? rest.endIndex
        let authority = rest[..<slash]
        let path = slash == rest.endIndex ? "/" : String(rest[slash...])
        guard !path.contains(" "), !path.contains("#") else { throw ValueError(expected: expected, got: text) }
        let (host, port) = try HostPort.parse(authority, defaultHost: nil, ports: 1...65535, expected: expected)
        return ForwardAuthConfig(host: host, port: port, path: path)
    }

    /// A header name (an RFC 9110 token), lowercased.
    static func headerName(_ text: some StringProtocol) throws(ValueError) -> String {
        let name = text.trimmedSpaces
        guard !name.isEmpty, name.utf8.allSatisfy(isTokenByte) else {
            throw ValueError(expected: "a header name like X-User-Id", got: name)
        }
        return name.lowercased()
    }

    /// A comma- or space-separated list.
    static func list(_ text: some StringProtocol) -> [String] {
        Substring(text).split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" }).map(String.init)
    }
}
