/// `cors`: which web origins may call a route from a browser (the Fetch standard's CORS protocol).
///
/// Preflights (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) are answered by the gateway: 204 with
/// the `Access-Control-Allow-*` fields, or a refusal (403, no CORS fields) when the origin, the method or one of the
/// requested headers is not allowed. Actual answers to an allowed origin get `Access-Control-Allow-Origin` (the
/// origin itself, or `*` only for `origins=*` without credentials), `-Credentials` and `-Expose-Headers`; answers
/// to other origins get none. The gateway removes the upstream's own `Access-Control-*` fields when a policy is on,
/// and adds `Vary: Origin` either way. A wildcard with credentials is refused at load.
public struct CORSPolicy: Hashable, Sendable {
    /// An allowed origin.
    enum Origin: Hashable, Sendable {
        /// `https://a.example` (scheme and host lowercased, port as written).
        case exact(String)
        /// `https://*.b.example:8443`: one or more labels before the domain.
        case wildcard(scheme: String, suffix: String, port: String)
        case any
    }

    let origins: [Origin]
    let methods: [String]
    /// Lowercased; empty with `anyHeader`.
    let headers: [String]
    let anyHeader: Bool
    let expose: [String]
    let credentials: Bool
    let maxAge: Int?

    public static let vary = "Origin"
    static let safelisted: Set<String> = ["accept", "accept-language", "content-language", "content-type"]
    static let simpleMethods: Set<String> = ["GET", "HEAD", "POST"]
    static let example = "origins=https://app.example methods=GET,POST headers=Authorization credentials=on max_age=10m"

    public static func parse(_ text: some StringProtocol) throws(FilterSyntaxError) -> CORSPolicy {
        var origins: [Origin] = []
        var methods = ["GET", "HEAD", "POST"]
        var headers: [String] = []
        var anyHeader = false
        var expose: [String] = []
        var credentials = false
        var maxAge: Int?
        var seenOrigins = false
        for word in Substring(text).split(whereSeparator: { $0 == " " || $0 == "\t" }) {
            guard let equals = word.firstIndex(of: "=") else {
                throw FilterSyntaxError(expected: "key=value options (\(example))", got: word)
            }
            let key = word[..<equals]
            let value = word[word.index(after: equals)...]
            let items = value.split(separator: ",").map { FilterText.trimmed($0) }.filter { !$0.isEmpty }
            switch key {
            case "origins":
                seenOrigins = true
                for item in items { origins.append(try origin(item)) }
            case "methods":
                guard !items.isEmpty, items.allSatisfy(FilterText.isToken) else {
                    throw FilterSyntaxError(expected: "methods=GET,POST", got: word)
                }
                methods = items.map { $0.uppercased() }
            case "headers":
                if items == ["*"] {
                    anyHeader = true
                } else {
                    guard !items.isEmpty, items.allSatisfy(FilterText.isToken) else {
                        throw FilterSyntaxError(expected: "headers=Authorization,Content-Type or headers=*", got: word)
                    }
                    headers = items.map { $0.lowercased() }
                }
            case "expose":
                guard !items.isEmpty, items.allSatisfy(FilterText.isToken) else {
                    throw FilterSyntaxError(expected: "expose=X-Request-Id,ETag", got: word)
                }
                expose = items.map(String.init)
            case "credentials":
                switch value.lowercased() {
                case "on", "true", "yes": credentials = true
                case "off", "false", "no": credentials = false
                default: throw FilterSyntaxError(expected: "credentials=on or credentials=off", got: word)
                }
            case "max_age":
                guard let seconds = Self.seconds(value) else {
                    throw FilterSyntaxError(expected: "max_age= a duration like 10m, 600s or 1h (at most 1d)", got: word)
                }
                maxAge = seconds
            default:
                throw FilterSyntaxError(expected: "one of origins=, methods=, headers=, expose=, credentials=, max_age=", got: word)
            }
        }
        guard seenOrigins, !origins.isEmpty else {
            throw FilterSyntaxError(expected: "origins=... (\(example))", got: text)
        }
        if credentials && origins.contains(.any) {
            throw FilterSyntaxError(
                expected: "listed origins with credentials=on (never a wildcard with credentials)", got: text)
        }
        return CORSPolicy(
            origins: origins, methods: methods, headers: headers, anyHeader: anyHeader, expose: expose,
            credentials: credentials, maxAge: maxAge)
    }

    /// `https://a.example`, `https://*.b.example:8443` or `*`.
    static func origin(_ text: Substring) throws(FilterSyntaxError) -> Origin {
        if text == "*" { return .any }
        let expected = "an origin like https://app.example, https://*.example.org or *"
        guard let separator = text.firstRange(of: "://") else { throw FilterSyntaxError(expected: expected, got: text) }
        let scheme = text[..<separator.lowerBound].lowercased()
        var authority = text[separator.upperBound...]
        let schemeValid = !scheme.isEmpty && scheme.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" }
        guard schemeValid, !authority.isEmpty, !authority.contains("/") else {
            throw FilterSyntaxError(expected: expected + " (scheme://host[:port], no path)", got: text)
        }
        var port = ""
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            port = String(authority[colon...])
            authority = authority[..<colon]
            guard port.count > 1, port.dropFirst().allSatisfy(\.isNumber) else {
                throw FilterSyntaxError(expected: expected, got: text)
            }
        }
        let host = authority.lowercased()
        if host.hasPrefix("*.") {
            let suffix = String(host.dropFirst(1))
            guard suffix.count > 1, !suffix.contains("*") else { throw FilterSyntaxError(expected: expected, got: text) }
            return .wildcard(scheme: scheme, suffix: suffix, port: port)
        }
        guard !host.contains("*") else { throw FilterSyntaxError(expected: expected, got: text) }
        return .exact(scheme + "://" + host + port)
    }

    /// `10m`, `600s`, `1h`, `1d`, or whole seconds; at most a day.
    static func seconds(_ text: Substring) -> Int? {
        var digits = text
        var unit = 1
        if let last = text.last, !last.isNumber {
            digits = text.dropLast()
            switch last {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            default: return nil
            }
        }
        guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isNumber), let value = Int(digits),
            value * unit <= 86_400
        else { return nil }
        return value * unit
    }

    /// Whether the request is a CORS preflight.
    public static func isPreflight(method: String, origin: String?, requestMethod: String?) -> Bool {
        method == "OPTIONS" && origin != nil && requestMethod != nil
    }

    /// Whether `origin` (as the browser sent it) is allowed. `null` is never allowed by a wildcard.
    public func allows(origin: String) -> Bool {
        let lower = origin.lowercased()
        guard lower != "null" else { return origins.contains(.exact("null")) }
        guard let separator = lower.firstRange(of: "://") else { return false }
        let scheme = String(lower[..<separator.lowerBound])
        var host = lower[separator.upperBound...]
        var port = ""
        if let colon = host.lastIndex(of: ":"), !host.hasSuffix("]") {
            port = String(host[colon...])
            host = host[..<colon]
        }
        for allowed in origins {
            switch allowed {
            case .any: return true
            case .exact(let text): if text == lower { return true }
            case .wildcard(let allowedScheme, let suffix, let allowedPort):
                if allowedScheme == scheme, allowedPort == port, host.hasSuffix(suffix), host.count > suffix.count {
                    return true
                }
            }
        }
        return false
    }

    private func allowOrigin(_ origin: String) -> String {
        origins == [.any] && !credentials ? "*" : origin
    }

    /// The answer to a preflight, or nil when it is refused.
    public func preflight(origin: String, requestMethod: String, requestHeaders: String?) -> [(name: String, value: String)]? {
        guard allows(origin: origin) else { return nil }
        let method = requestMethod.uppercased()
        guard methods.contains(method) || Self.simpleMethods.contains(method) else { return nil }
        var asked: [String] = []
        for item in (requestHeaders ?? "").split(separator: ",") {
            let name = FilterText.trimmed(item).lowercased()
            guard !name.isEmpty else { continue }
            guard anyHeader || headers.contains(name) || Self.safelisted.contains(name) else { return nil }
            asked.append(name)
        }
        var fields: [(name: String, value: String)] = [
            ("access-control-allow-origin", allowOrigin(origin)),
            ("access-control-allow-methods", methods.joined(separator: ", ")),
        ]
        if !asked.isEmpty {
            fields.append(("access-control-allow-headers", asked.joined(separator: ", ")))
        } else if !headers.isEmpty {
            fields.append(("access-control-allow-headers", headers.joined(separator: ", ")))
        }
        if credentials { fields.append(("access-control-allow-credentials", "true")) }
        if let maxAge { fields.append(("access-control-max-age", String(maxAge))) }
        fields.append(("vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"))
        return fields
    }

    /// The fields of an actual answer: empty without an origin or for one that is not allowed.
    public func responseHeaders(origin: String?) -> [(name: String, value: String)] {
        guard let origin, allows(origin: origin) else { return [] }
        var fields: [(name: String, value: String)] = [("access-control-allow-origin", allowOrigin(origin))]
        if credentials { fields.append(("access-control-allow-credentials", "true")) }
        if !expose.isEmpty { fields.append(("access-control-expose-headers", expose.joined(separator: ", "))) }
        return fields
    }
}
