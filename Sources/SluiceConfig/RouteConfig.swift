public import SluiceTraffic

/// `[route NAME]`: which requests go to which upstream, and how long they may take.
public struct RouteConfig: Sendable, Equatable {
    /// Every upstream this route may send to: its split and its canary.
    public var allUpstreams: [String] {
        if filters.directAnswer != nil { return [] }
        return splits.map(\.upstream) + (canary.map { [$0.upstream] } ?? []) + (filters.mirror.map { [$0.upstream] } ?? [])
    }

    public var name: String
    /// `match`: a SluiceRouter pattern, `/api/v1/users/:id` or `/api/v1/users/*`.
    public var match: String
    /// `host`: lowercase exact names or `*.example.com` wildcards; empty matches any host.
    public var hosts: [String]
    /// `methods`: uppercase; empty matches any method.
    public var methods: [String]
    /// `upstream`: the name of an `[upstream]` section (empty for a route that answers itself with `return`).
    public var upstream: String
    /// `timeout`: from sending the request until the response head arrives; 504 after it.
    public var timeout: Duration
    /// `idle_timeout`: the longest silence while a body streams in either direction.
    public var idleTimeout: Duration
    /// `retries` (0...10): further attempts on another server after a connect failure or a retryable answer.
    public var retries: Int
    /// `host_rewrite`: the Host header sent upstream; nil passes the client's.
    public var hostRewrite: String?
    /// `upstream = a 90%, b 10%`: a weighted split; one entry (weight 1) for a plain `upstream = name`.
    public var splits: [UpstreamSplit]
    /// `split_key`: what keeps a client on one side of a split (nil: each request drawn at random).
    public var splitKey: HashKey?
    /// `canary = header:X-Canary=1 -> users-v2`.
    public var canary: CanaryRule?
    /// `retries = N on=... per_try_timeout=... backoff=...`.
    public var retryPolicy: RetryPolicy
    /// `retry_non_idempotent`: also retry POST and PATCH (only ever when nothing of the body was sent).
    public var retryNonIdempotent: Bool
    /// `rate_limit` lines: token buckets a request must all pass (429 when one is empty).
    public var rateLimits: [RateLimitConfig] = []
    /// `priority`: which routes are shed first under overload (optional, then normal; core last).
    public var priority: RoutePriority = .normal
    /// `hsts`: the `Strict-Transport-Security` value added to answers over TLS (unless the upstream set one).
    public var hsts: String?
    /// `gzip = on` (with `gzip_types`, `gzip_min_length`, `gzip_level`); nil: responses pass as they are.
    public var compression: CompressionConfig?
    /// `websocket` (default on): `Upgrade: websocket` requests are tunneled to the upstream after its 101.
    public var websocket = true
    /// `tunnel_timeout` (above 0, at most 1d; default 1h): how long a tunnel may be silent in both directions before
    /// it is closed (HAProxy's `timeout tunnel`).
    public var tunnelTimeout = Duration.seconds(3600)
    /// `fallback`: what the route answers when it is degraded, shed or its breaker is open (nil: 503).
    public var fallback: FallbackConfig?
    /// `degrade` lines: Sentinel-style rules that switch the route to its fallback.
    public var degrade: [DegradeConfig] = []
    /// `circuit_breaker` on the route itself (upstreams have their own).
    public var circuitBreaker: CircuitBreakerConfig?
    /// `adaptive_concurrency`.
    public var adaptiveConcurrency: AdaptiveConcurrencyConfig?
    /// `fault` lines merged.
    public var fault: FaultConfig?
    /// `fault_header`: let `Sluice-Fault-Delay` / `Sluice-Fault-Abort` request headers inject faults.
    public var faultHeader = false
    /// `strip_prefix`, `rewrite`, `request_header`, `return`, `cors`, `allow`, `auth`, `mirror`… (`RouteFiltersConfig`).
    public var filters = RouteFiltersConfig()
    /// The `[route NAME]` header.
    public var location: SourceLocation

    public static let defaultTimeout = Duration.seconds(30)
    public static let defaultIdleTimeout = Duration.seconds(60)
    public static let defaultRetries = 1

    public init(
        name: String,
        match: String,
        hosts: [String] = [],
        methods: [String] = [],
        upstream: String,
        timeout: Duration = RouteConfig.defaultTimeout,
        idleTimeout: Duration = RouteConfig.defaultIdleTimeout,
        retries: Int = RouteConfig.defaultRetries,
        hostRewrite: String? = nil,
        splits: [UpstreamSplit]? = nil,
        splitKey: HashKey? = nil,
        canary: CanaryRule? = nil,
        retryPolicy: RetryPolicy? = nil,
        retryNonIdempotent: Bool = false,
        location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
    ) {
        self.splits = splits ?? [UpstreamSplit(upstream: upstream, weight: 1)]
        self.splitKey = splitKey
        self.canary = canary
        self.retryPolicy = retryPolicy ?? RetryPolicy(retries: retries)
        self.retryNonIdempotent = retryNonIdempotent
        self.name = name
        self.match = match
        self.hosts = hosts
        self.methods = methods
        self.upstream = upstream
        self.timeout = timeout
        self.idleTimeout = idleTimeout
        self.retries = retries
        self.hostRewrite = hostRewrite
        self.location = location
    }
}
