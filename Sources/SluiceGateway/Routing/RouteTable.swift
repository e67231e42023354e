import NIOCore
import SluiceRouter

/// A compiled route: where a matching request goes and under which limits.
struct ProxyRoute: Sendable {
    let name: String
    let pattern: String
    let upstream: UpstreamPool
    /// Until the response head arrives, counted from when the request was fully sent.
    let timeout: TimeAmount
    /// Longest silence while a body streams, either way.
    let idleTimeout: TimeAmount
    /// Further tries on another server when a try fails before any byte reached the upstream.
    let retries: Int
    /// The `Host` sent upstream; nil passes the client's.
    let hostRewrite: String?
}

/// Routes by host, then method and path. Like Envoy's virtual hosts: the host picks one table (exact name, then
/// the longest matching `*.suffix`, then the routes with no host), and only that table is searched.
struct RouteTable: Sendable {
    private let exact: [String: Router<ProxyRoute>]
    /// Suffixes with their leading dot (`.example.com`), longest first.
    private let wildcards: [(suffix: String, router: Router<ProxyRoute>)]
    private let fallback: Router<ProxyRoute>?

    init(exact: [String: Router<ProxyRoute>], wildcards: [(String, Router<ProxyRoute>)], fallback: Router<ProxyRoute>?) {
        self.exact = exact
        self.wildcards = wildcards.sorted { $0.0.utf8.count > $1.0.utf8.count }.map { (suffix: $0.0, router: $0.1) }
        self.fallback = fallback
    }

    /// Looks a request up. `host` is the `Host` header as sent (port and case are ignored).
    func lookup(host: String?, method: String, path: Substring) -> RouteMatch<ProxyRoute> {
        guard let router = router(for: host) else { return .notFound }
        return router.lookup(method, path)
    }

    private func router(for host: String?) -> Router<ProxyRoute>? {
        guard let host, !exact.isEmpty || !wildcards.isEmpty else { return fallback }
        let name = Self.normalize(host)
        if let router = exact[name] { return router }
        for (suffix, router) in wildcards where name.hasSuffix(suffix) && name.utf8.count > suffix.utf8.count {
            return router
        }
        return fallback
    }

    /// `Example.COM:8080` → `example.com`; `[::1]:80` → `[::1]`.
    static func normalize(_ host: String) -> String {
        var name = Substring(host)
        if name.hasPrefix("[") {
            if let close = name.firstIndex(of: "]") { name = name[...close] }
        } else if let colon = name.lastIndex(of: ":") {
            name = name[..<colon]
        }
        if name.utf8.contains(where: { $0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z") }) { return name.lowercased() }
        return String(name)
    }
}
