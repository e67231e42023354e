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
    /// `[tls]`, if present: the certificates of `tls` listeners.
    public var tls: TLSConfig?

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

    /// What is valid but probably not meant, one sentence each, for `sluiced -t` and the log at start and reload to
    /// print beside the errors (none of these stops a load):
    /// - `admin` on an address beyond loopback (`0.0.0.0`, which `admin = :9901` means, or any other) without
    ///   `admin_token`: the admin API then refuses every request.
    public var warnings: [String] {
        var warnings: [String] = []
        if let admin = server.admin, server.adminToken == nil, !admin.isLoopback {
            warnings.append(
                "admin listens on \(admin), beyond loopback, without admin_token: every admin request will be refused")
        }
        for route in routes where route.compression.map({ $0.level != 6 }) == true {
            warnings.append(
                "[route \(route.name)] gzip_level: NIO's compressor works at zlib's default level 6; "
                    + "\(route.compression!.level) is not applied")
        }
        return warnings
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
    /// `workers` (1...256): event loop threads; nil for one per CPU the process may run on (`CPUAffinity`).
    public var workers: Int?
    /// `max_header_size` (1k...1m): the largest request line plus headers; larger heads are answered 431.
    public var maxHeaderSize: Int
    /// `max_body_size` (0...1 TiB): the largest request body; larger ones are answered 413. 0 means no limit.
    public var maxBodySize: Int
    /// `client_header_timeout` (above 0, at most 1h): how long a client may take to send a request head.
    public var clientHeaderTimeout: Duration
    /// `keepalive_timeout` (0...1d): how long an idle client connection is kept open between requests.
    public var keepaliveTimeout: Duration
    /// `drain_timeout` (0...1d): on shutdown or reload, how long in-flight requests may take before connections
    /// are closed.
    public var drainTimeout: Duration
    /// `access_log = off | stdout | stderr | FILE` (default stdout): one line per request; false when off.
    public var accessLog: Bool
    /// Where the lines go when `accessLog` is on.
    public var accessLogTarget: AccessLogTarget = .stdout
    /// `access_log_format = combined | json` (default combined).
    public var accessLogFormat: AccessLogFormat = .combined
    /// `log_level`.
    public var logLevel: LogLevel
    /// `trusted_proxies`: CIDRs whose `X-Forwarded-For` is believed when finding a client's address.
    public var trustedProxies: [CIDR] = []
    /// `merge_slashes` (default on): repeated slashes in a request path are merged into one before routing
    /// (nginx's `merge_slashes`).
    public var mergeSlashes: Bool
    /// `escaped_slashes` (default reject): what `%2F` and `%5C` in a request path mean.
    public var escapedSlashes: EscapedSlashesConfig
    /// `max_client_connections` (0...1,000,000, default 10,000; 0 = unlimited): open client connections; past it, a
    /// new connection is closed at once and counted (HAProxy's `maxconn`, nginx's `worker_connections`).
    public var maxClientConnections: Int
    /// `max_headers` (1...10,000, default 100): a request with more header fields is answered 431.
    public var maxHeaders: Int
    /// `client_body_timeout` (above 0, at most 1h; default 60s): the longest pause between two reads of a request
    /// body; then 408 (nginx's `client_body_timeout`). `client_header_timeout` is for heads.
    public var clientBodyTimeout: Duration
    /// `request_timeout` (0...1d, default 0 = off): the longest a client may take to send a whole request, head and
    /// body; then 408.
    public var requestTimeout: Duration
    /// `request_buffer_size` (0...16m, default 64k): a request body up to this size is read completely before an
    /// upstream connection is taken, so that slow uploaders cannot hold upstream connections; larger bodies stream.
    public var requestBufferSize: Int
    /// `admin_token`: the Bearer token of the admin API (at least 16 printable ASCII characters, no spaces; nil
    /// for none). State-changing admin requests always need it; every admin request needs it when `admin` is not a
    /// loopback address.
    public var adminToken: String?
    /// `h2_*`: HTTP/2 on `tls` (ALPN) and `h2c` listeners.
    public var http2 = HTTP2Config()
    /// `redirect_https = on`: every plain listener answers 308 to the same host and path over https (a listener's own
    /// `redirect_https` flag does the same for that one).
    public var redirectHTTPS = false
    /// `metrics` (default on): record request-path metrics (requests, durations, rate-limit decisions by route;
    /// upstream durations). Off leaves `/metrics` with the state read when scraped.
    public var metrics = true
    /// `resolver = 127.0.0.1:53, [::1]:53`: the DNS servers `resolve` upstream servers ask (default: the
    /// nameservers of /etc/resolv.conf); `resolver_timeout` (100ms...30s, default 2s) per attempt.
    public var resolvers: [ListenAddress] = []
    public var resolverTimeout = Duration.seconds(2)
    /// The first `[server]` header.
    public var location: SourceLocation

    public static let defaultMaxHeaderSize = 16 * 1024
    public static let defaultClientHeaderTimeout = Duration.seconds(10)
    public static let defaultKeepaliveTimeout = Duration.seconds(60)
    public static let defaultDrainTimeout = Duration.seconds(30)
    public static let defaultMaxClientConnections = 10_000
    public static let defaultMaxHeaders = 100
    public static let defaultClientBodyTimeout = Duration.seconds(60)
    public static let defaultRequestBufferSize = 64 * 1024

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
        mergeSlashes: Bool = true,
        escapedSlashes: EscapedSlashesConfig = .reject,
        maxClientConnections: Int = ServerConfig.defaultMaxClientConnections,
        maxHeaders: Int = ServerConfig.defaultMaxHeaders,
        clientBodyTimeout: Duration = ServerConfig.defaultClientBodyTimeout,
        requestTimeout: Duration = .zero,
        requestBufferSize: Int = ServerConfig.defaultRequestBufferSize,
        adminToken: String? = nil,
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
        self.mergeSlashes = mergeSlashes
        self.escapedSlashes = escapedSlashes
        self.maxClientConnections = maxClientConnections
        self.maxHeaders = maxHeaders
        self.clientBodyTimeout = clientBodyTimeout
        self.requestTimeout = requestTimeout
        self.requestBufferSize = requestBufferSize
        self.adminToken = adminToken
        self.location = location
    }
}

/// `escaped_slashes`: what an encoded slash (`%2F`) or backslash (`%5C`) in a request path means.
public enum EscapedSlashesConfig: String, Sendable, Hashable, CaseIterable {
    /// The request is answered 400.
    case reject
    /// Forwarded as written, still encoded; not a path separator when routing.
    case keep
    /// Both decoded to `/`, and then a separator like any other.
    case decode
}

/// `log_level`: the least severe message written. The names are swift-log's levels.
public enum LogLevel: String, Sendable, CaseIterable {
    case trace, debug, info, notice, warning, error, critical
}

/// Where the access log is written.
public enum AccessLogTarget: Hashable, Sendable, CustomStringConvertible {
    case stdout
    case stderr
    /// A file, appended to, reopened on SIGUSR1 (logrotate's `postrotate`).
    case file(String)

    public var description: String {
        switch self {
        case .stdout: "stdout"
        case .stderr: "stderr"
        case .file(let path): path
        }
    }
}

/// The access log's line format.
public enum AccessLogFormat: String, CaseIterable, Hashable, Sendable {
    /// nginx's `combined`, then `key=value` fields: time taken, route, upstream server, zone, request id, trace id.
    case combined
    /// One JSON object per line.
    case json
}
