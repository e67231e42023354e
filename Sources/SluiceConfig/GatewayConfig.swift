public import SluiceTraffic

/// The whole gateway configuration as one immutable value: what `ConfigLoader` builds from the INI files once they
/// parse and validate. A reload builds a new one and compares; nothing here is ever mutated in place while running.
///
/// Every section remembers where it was written, so that runtime messages can point back at the file.
public struct GatewayConfig: Sendable, Equatable {
    public var server: ServerConfig
    /// In file order; names are unique.
    public var upstreams: [UpstreamConfig]
    /// In file order; names are unique. The router breaks ties between equally specific routes in this order.
    public var routes: [RouteConfig]
    /// Every file read, the main one first: what a reload watches.
    public var files: [String]
    /// `[protection]`, if present.
    public var protection: ProtectionConfig?
    /// `[ratelimit]`, if present: global rate limits through Redis.
    public var globalRateLimit: GlobalRateLimitConfig?

    public init(
        server: ServerConfig, upstreams: [UpstreamConfig] = [], routes: [RouteConfig] = [], files: [String] = []
    ) {
        self.server = server
        self.upstreams = upstreams
        self.routes = routes
        self.files = files
    }

    /// The `[upstream NAME]` section called `named`.
    public func upstream(named name: String) -> UpstreamConfig? {
        upstreams.first { $0.name == name }
    }
}

/// `[server]`: the gateway's own listeners, limits and timeouts.
public struct ServerConfig: Sendable, Equatable {
    /// `listen`, repeatable, at least one.
    public var listen: [ListenAddress]
    /// `zone`: the availability zone this gateway runs in, for zone-aware balancing. Nil: no zone preference.
    public var zone: String?
    /// `admin`: where the status and metrics API listens; nil for none. Never one of the `listen` addresses.
    public var admin: ListenAddress?
    /// `workers` (1...256): event loop threads; nil for one per core.
    public var workers: Int?
    /// `max_header_size`: the largest request line plus headers; larger heads are answered 431.
    public var maxHeaderSize: Int
    /// `max_body_size`: the largest request body; larger ones are answered 413. 0 means no limit.
    public var maxBodySize: Int
    /// `client_header_timeout`: how long a client may take to send a request head.
    public var clientHeaderTimeout: Duration
    /// `keepalive_timeout`: how long an idle client connection is kept open between requests.
    public var keepaliveTimeout: Duration
    /// `drain_timeout`: on shutdown or reload, how long in-flight requests may take before connections are closed.
    public var drainTimeout: Duration
    /// `access_log`: one line per request.
    public var accessLog: Bool
    /// `log_level`.
    public var logLevel: LogLevel
    /// `trusted_proxies`: CIDRs whose `X-Forwarded-For` is believed when finding a client's address.
    public var trustedProxies: [CIDR] = []
    /// The first `[server]` header.
    public var location: SourceLocation

    public static let defaultMaxHeaderSize = 16 * 1024
    public static let defaultClientHeaderTimeout = Duration.seconds(10)
    public static let defaultKeepaliveTimeout = Duration.seconds(60)
    public static let defaultDrainTimeout = Duration.seconds(30)

    public init(
        listen: [ListenAddress],
        zone: String? = nil,
        admin: ListenAddress? = nil,
        workers: Int? = nil,
        maxHeaderSize: Int = ServerConfig.defaultMaxHeaderSize,
        maxBodySize: Int = 0,
        clientHeaderTimeout: Duration = ServerConfig.defaultClientHeaderTimeout,
        keepaliveTimeout: Duration = ServerConfig.defaultKeepaliveTimeout,
        drainTimeout: Duration = ServerConfig.defaultDrainTimeout,
        accessLog: Bool = true,
        logLevel: LogLevel = .info,
        location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
    ) {
        self.listen = listen
        self.zone = zone
        self.admin = admin
        self.workers = workers
        self.maxHeaderSize = maxHeaderSize
        self.maxBodySize = maxBodySize
        self.clientHeaderTimeout = clientHeaderTimeout
        self.keepaliveTimeout = keepaliveTimeout
        self.drainTimeout = drainTimeout
        self.accessLog = accessLog
        self.logLevel = logLevel
        self.location = location
    }
}

/// `log_level`: the least severe message written. The names are swift-log's levels.
public enum LogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}
