/// `[upstream NAME]`: a pool of servers that routes send requests to, and how connections to them are kept.
///
/// Connection limits are per server per event loop: each loop owns its pools, so no lock is taken on the request path.
public struct UpstreamConfig: Sendable, Equatable {
    public var name: String
    /// `server = HOST:PORT [zone=az1] [weight=N] [max_conns=N] [backup]`, repeatable, at least one.
    public var servers: [UpstreamServerConfig]
    /// `balance`: how a server is picked among the healthy ones.
    public var balance: BalanceAlgorithm
    /// `keepalive`: idle pooled connections kept per server per event loop; 0 disables pooling.
    public var keepalive: Int
    /// `keepalive_timeout`: how long an idle pooled connection is kept.
    public var keepaliveTimeout: Duration
    /// `keepalive_requests`: requests sent on one connection before it is closed and replaced.
    public var keepaliveRequests: Int
    /// `max_connections`: open connections per server per event loop; a server's own `max_conns` overrides it.
    public var maxConnections: Int
    /// `queue`: requests that may wait for a connection when the pool is full; 0 for none. Overflow is answered 503.
    public var queue: Int
    /// `queue_timeout`: how long a queued request waits before it is answered 503.
    public var queueTimeout: Duration
    /// `connect_timeout`: for one TCP connect to one server.
    public var connectTimeout: Duration
    /// `max_fails`: local-origin failures in a row (connect refused or timed out, a fresh connection closed before
    /// any answer) that take a server out of rotation at once; 0 never does. Default 1 (nginx's).
    public var maxFails = 1
    /// `resolve_interval` (1s...1d, default 10s): how often `resolve` servers are looked up again (sooner when the
    /// records' TTL is shorter, never more often than once a second).
    public var resolveInterval = Duration.seconds(10)
    /// Whether any server is found through DNS.
    public var resolves: Bool { servers.contains(where: \.resolve) }
    /// `fail_timeout`: without active checks, how long a server taken out waits before it is probed again
    /// (doubling after each failed probe, up to 30 times as long). Default 1s.
    public var failTimeout = Duration.seconds(1)
    /// The `[upstream NAME]` header.
    /// `health_check`: active HTTP checks; nil for none (servers are then always taken as healthy).
    public var healthCheck: HealthCheckConfig?
    /// `outlier`: passive ejection; nil for none.
    public var outlier: OutlierConfig?
    /// `hash_key`, for `balance = hash`: default client_ip.
    public var hashKey: HashKey
    /// `zone_min_size`: below this many servers in the gateway's zone, no zone preference. Default 1.
    public var zoneMinSize: Int
    /// `panic`: when fewer than this share of the servers are healthy, balance over all of them. Default 50%.
    public var panicThreshold: Double
    /// `slow_start`: how long a server that just became healthy takes to reach its full share. Default 0s (off).
    public var slowStart: Duration
    /// `retry_budget = 20% min=3`: retries in flight may be at most this share of the requests in flight (or the
    /// minimum, whichever is more): no retry storms when an upstream is down (Envoy's retry budget).
    public var retryBudget: Double
    public var retryBudgetMinimum: Int
    /// `circuit_breaker`: resilience4j's breaker over this upstream's answers.
    public var circuitBreaker: CircuitBreakerConfig?
    /// `max_requests`: requests in flight to this upstream from the whole gateway; above it, 503 at once (Envoy).
    public var maxRequests: Int?
    /// `max_pending`: requests waiting for a connection, gateway-wide; above it, 503 at once (Envoy).
    public var maxPending: Int?
    /// `adaptive_concurrency`.
    public var adaptiveConcurrency: AdaptiveConcurrencyConfig?
    /// `degrade` lines: rules over this upstream's answers that degrade the routes using it, lowest priority first.
    public var degrade: [DegradeConfig] = []
    /// `protocol = http1 | h2`.
    public var `protocol` = UpstreamProtocol.http1
    /// `tls = on`: every server is reached over TLS (a `server` line's `tls` flag does it for one).
    public var tls = false
    /// `tls_verify`, `tls_ca`, `tls_sni`.
    public var tlsSettings = UpstreamTLSConfig()
    public var location: SourceLocation

    public static let defaultKeepalive = 32
    public static let defaultKeepaliveTimeout = Duration.seconds(60)
    public static let defaultKeepaliveRequests = 1000
    public static let defaultMaxConnections = 256
    public static let defaultQueue = 128
    public static let defaultQueueTimeout = Duration.seconds(1)
    public static let defaultConnectTimeout = Duration.seconds(1)

    public init(
        name: String,
        servers: [UpstreamServerConfig],
        balance: BalanceAlgorithm = .roundRobin,
        keepalive: Int = UpstreamConfig.defaultKeepalive,
        keepaliveTimeout: Duration = UpstreamConfig.defaultKeepaliveTimeout,
        keepaliveRequests: Int = UpstreamConfig.defaultKeepaliveRequests,
        maxConnections: Int = UpstreamConfig.defaultMaxConnections,
        queue: Int = UpstreamConfig.defaultQueue,
        queueTimeout: Duration = UpstreamConfig.defaultQueueTimeout,
        connectTimeout: Duration = UpstreamConfig.defaultConnectTimeout,
        healthCheck: HealthCheckConfig? = nil,
        outlier: OutlierConfig? = nil,
        hashKey: HashKey = .clientIP,
        zoneMinSize: Int = 1,
        panicThreshold: Double = 0.5,
        slowStart: Duration = .zero,
        retryBudget: Double = 0.2,
        retryBudgetMinimum: Int = 3,
        location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
    ) {
        self.retryBudget = retryBudget
        self.retryBudgetMinimum = retryBudgetMinimum
        self.healthCheck = healthCheck
        self.outlier = outlier
        self.hashKey = hashKey
        self.zoneMinSize = zoneMinSize
        self.panicThreshold = panicThreshold
        self.slowStart = slowStart
        self.name = name
        self.servers = servers
        self.balance = balance
        self.keepalive = keepalive
        self.keepaliveTimeout = keepaliveTimeout
        self.keepaliveRequests = keepaliveRequests
        self.maxConnections = maxConnections
        self.queue = queue
        self.queueTimeout = queueTimeout
        self.connectTimeout = connectTimeout
        self.location = location
    }
}

/// `balance`: how a server is chosen among the healthy ones in the chosen zone.
public enum BalanceAlgorithm: String, Sendable, CaseIterable {
    /// Each server in turn, in proportion to its weight.
    case roundRobin = "round_robin"
    /// The server with the fewest requests in flight (relative to its weight).
    case leastRequest = "least_request"
    /// A random server, in proportion to its weight.
    case random
    /// A hash of the request, so that the same client or key keeps reaching the same server.
    case hash
}

/// One `server = HOST:PORT [zone=az1] [weight=N] [max_conns=N] [backup]` line of an upstream.
public struct UpstreamServerConfig: Hashable, Sendable {
    /// An IP address (IPv6 without brackets) or a DNS name.
    public var host: String
    public var port: Int
    /// `zone=`: the availability zone the server runs in; nil for unknown (treated as remote by zone-aware routing).
    public var zone: String?
    /// `weight=` (1...1000): its share of requests relative to the others.
    public var weight: Int
    /// `max_conns=`: overrides the upstream's `max_connections` for this server.
    public var maxConnections: Int?
    /// `backup`: used only when no primary server is healthy.
    public var backup: Bool
    /// `tls`: this server is reached over TLS (with the upstream's `tls_*` settings).
    public var tls = false
    /// `resolve`: `host` is a DNS name re-resolved every `resolve_interval` (or its records' TTL); each address is
    /// a server of its own, added and drained as the answer changes.
    public var resolve = false
    /// `srv` (with `resolve`): `host` names SRV records (`_users._tcp.internal`), which give the ports and weights.
    public var srv = false
    public var location: SourceLocation

    public init(
        host: String,
        port: Int,
        zone: String? = nil,
        weight: Int = 1,
        maxConnections: Int? = nil,
        backup: Bool = false,
        location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
    ) {
        self.host = host
        self.port = port
        self.zone = zone
        self.weight = weight
        self.maxConnections = maxConnections
        self.backup = backup
        self.location = location
    }

    /// `host:port`, `[v6]:port`: how the server is named in logs, metrics and the admin API.
    public var address: String { HostPort.format(host: host, port: port) }
}
