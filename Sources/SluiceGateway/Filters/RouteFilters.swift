import NIOHTTP1
import SluiceConfig
import SluiceFilters

/// A route's API-gateway filters, compiled (`RouteFiltersConfig` with the runtime objects its filters need). Nil on
/// a route without any, so such a route pays nothing.
final class RouteFilters: Sendable {
    let rewrite: PathRewrite?
    let requestHeaders: [HeaderRule]
    let responseHeaders: [HeaderRule]
    let directAnswer: DirectAnswer?
    let cors: CORSPolicy?
    let access: AccessRules?
    let auth: Authenticator?
    let mirror: RequestMirror?
    /// Headers the gateway sets from the caller's identity: a client's own values are removed first.
    let identityHeaders: [String]
    let metrics: FilterMetrics?
    /// Whether `access`, `cors`, `rewrite` are set: asked per request without copying the values (an optional
    /// struct compared with nil is copied, every array and string in it retained and released).
    let hasAccess: Bool
    let hasCORS: Bool
    let hasRewrite: Bool
    /// Header fields the filters may add to a request upstream and to an answer: room reserved up front.
    let requestCapacity: Int
    let responseCapacity: Int
    /// A response rule names `Vary` or an `Access-Control-*` field.
    let responseRulesTouchCORS: Bool

    init(_ config: RouteFiltersConfig, auth: Authenticator?, mirror: RequestMirror?, metrics: FilterMetrics?) {
        self.metrics = metrics
        rewrite = config.rewrite.isEmpty ? nil : config.rewrite
        requestHeaders = config.requestHeaders
        responseHeaders = config.responseHeaders
        directAnswer = config.directAnswer
        cors = config.cors
        access = config.access
        self.auth = auth
        self.mirror = mirror
        identityHeaders = config.auth?.identityHeaders ?? []
        hasAccess = config.access != nil
        hasCORS = config.cors != nil
        hasRewrite = !config.rewrite.isEmpty
        requestCapacity = config.requestHeaders.count + identityHeaders.count
        responseCapacity = config.responseHeaders.count + (config.cors == nil ? 0 : 4)
        responseRulesTouchCORS = config.responseHeaders.contains { $0.name == "vary" || $0.name.hasPrefix("access-control-") }
    }

    /// The route's path rewrite applied to `path` (`hasRewrite`).
    func rewrite(_ path: Substring, params: (String) -> Substring?) -> PathRewrite.Outcome {
        rewrite?.apply(to: path, params: params) ?? .path(String(path))
    }

    /// Whether `allow`/`deny` let `address` in.
    func permits(_ address: String) -> Bool {
        access?.permits(address) ?? true
    }

    /// Applies header rules to `headers`, rendering values with `value`.
    static func apply(_ rules: [HeaderRule], to headers: inout HTTPHeaders, _ value: (FilterVariable) -> String?) {
        for rule in rules {
            switch rule.operation {
            case .remove:
                headers.remove(name: rule.name)
            case .set:
                headers.replaceOrAdd(name: rule.name, value: rule.value?.render(value) ?? "")
            case .add:
                headers.add(name: rule.name, value: rule.value?.render(value) ?? "")
            }
        }
    }

    /// Whether `bytes` start with the lowercase ASCII `prefix`, ignoring case (no allocation).
    static func startsCaseless(_ bytes: String.UTF8View, with prefix: StaticString) -> Bool {
        guard bytes.count >= prefix.utf8CodeUnitCount else { return false }
        return prefix.withUTF8Buffer { expected in
            var index = bytes.startIndex
            for byte in expected {
                let got = bytes[index]
                guard got == byte || (got >= 65 && got <= 90 && got + 32 == byte) else { return false }
                index = bytes.index(after: index)
            }
            return true
        }
    }

    /// CORS headers on an answer to a routed request: the upstream's own `Access-Control-*` give way to the
    /// policy's, and `Vary: Origin` is added (the answer depends on it whether or not the origin was allowed).
    /// `seen`: whether the answer has `Access-Control-*` or `Vary` fields, when the caller knows (else one pass finds out).
    func applyCORS(to headers: inout HTTPHeaders, origin: String?, seen: ProxyHeaders.ResponseFacts? = nil) {
        // Whether the upstream set any Access-Control-* or Vary (usually it set neither).
        var upstreamCORS = seen?.accessControl ?? false
        var varies = seen?.vary ?? false
        if seen == nil {
            for (name, _) in headers {
                let bytes = name.utf8
                if bytes.count > 15, Self.startsCaseless(bytes, with: "access-control-") { upstreamCORS = true }
                if bytes.count == 4, Self.startsCaseless(bytes, with: "vary") { varies = true }
            }
        }
        if upstreamCORS {
            for name in ["access-control-allow-origin", "access-control-allow-credentials",
                         "access-control-expose-headers", "access-control-allow-methods", "access-control-allow-headers",
                         "access-control-max-age"] {
                headers.remove(name: name)
            }
        }
        if origin != nil, let fields = cors?.responseHeaders(origin: origin) {
            for (name, value) in fields { headers.add(name: name, value: value) }
        }
        if !varies || !headers[canonicalForm: "vary"].contains(where: { $0.lowercased() == "origin" || $0 == "*" }) {
            headers.add(name: "vary", value: CORSPolicy.vary)
        }
    }
}
