import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceRouter

/// A compiled route: where a matching request goes and under which limits.
struct ProxyRoute: Sendable {
    let name: String
    let pattern: String
    /// The route's (first) upstream.
    let upstream: UpstreamPool
    /// A weighted split between upstreams (canary, blue-green); empty when all traffic goes to `upstream`.
    var splits: [(upstream: UpstreamPool, weight: Double)] = []
    /// What keeps a client on one side of a split; nil draws each request.
    var splitKey: HashKey?
    /// Requests with this header value go to the canary upstream.
    var canary: (header: String, value: String, upstream: UpstreamPool)?
    var retryPolicy = RetryPolicy()
    var retryNonIdempotent = false
    /// Rate limits, degrade rules, breaker, adaptive limit, faults; nil when the route has none.
    var traffic: RouteTraffic?
    /// Until the response head arrives, counted from when the request was fully sent.
    let timeout: TimeAmount
    /// Longest silence while a body streams, either way.
    let idleTimeout: TimeAmount
    /// Further tries on another server (the retry policy's count).
    var retries: Int { retryPolicy.retries }
    /// The `Host` sent upstream; nil passes the client's.
    let hostRewrite: String?
    /// `hsts`: added to answers over TLS.
    var hsts: String?
    /// `gzip = on`: what to compress.
    var compression: CompressionConfig?
    /// `websocket`: tunnel `Upgrade: websocket` requests.
    var websocket = true
    /// `tunnel_timeout`: how long a tunnel may be silent both ways.
    var tunnelTimeout = TimeAmount.hours(1)
    /// `methods` names TRACE: only then is TRACE forwarded (it reflects the request, cookies included).
    var allowsTrace = false
    /// Requests, durations, rate-limit and degrade counts; nil without a metrics registry (some tests).
    var metrics: RouteMetrics?
    /// Rewrites, header rules, direct answers, CORS, access control, auth, mirroring; nil without any.
    var filters: RouteFilters?
    /// With `cors` on a route whose `methods` leave out OPTIONS, the route is also found for OPTIONS so that its
    /// preflights reach the gateway: these are the methods it really serves (other OPTIONS get 405 with them).
    var corsOnlyOptions: [String]?

    init(
        name: String, pattern: String, upstream: UpstreamPool, timeout: TimeAmount, idleTimeout: TimeAmount, retries: Int,
        hostRewrite: String?
    ) {
        self.name = name
        self.pattern = pattern
        self.upstream = upstream
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.hostRewrite = hostRewrite
        self.retryPolicy = RetryPolicy(retries: retries)
    }

    /// The upstream for one request: the canary's when the request carries its header value, else one side of the
    /// split, drawn by weight, by the split key's hash when there is one (so a client stays on its side).
    func chooseUpstream(headers: HTTPHeaders, hash: UInt64?, random: inout some RandomNumberGenerator) -> UpstreamPool {
        if let canary, headers.first(name: canary.header) == canary.value { return canary.upstream }
        guard splits.count > 1 else { return upstream }
        let point = hash.map { Double($0 % 1_000_000) / 1_000_000 } ?? Double.random(in: 0..<1, using: &random)
        var cumulative = 0.0
        for split in splits {
            cumulative += split.weight
            if point < cumulative { return split.upstream }
        }
        return splits[splits.count - 1].upstream
    }
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
