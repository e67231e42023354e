import Prometheus
import Logging
import NIOCore
import SluiceConfig
import SluiceRouter
import SluiceTraffic

/// Turns a validated `GatewayConfig` into a `RuntimeState`. Upstream servers whose address and pool settings did
/// not change are taken over from the running state, with their pools and open connections, so a reload neither
/// resets them nor reconnects.
struct RuntimeCompiler {
    /// The servers of the running state, by identity.
    let previous: [ServerKey: UpstreamServer]
    /// The running state's upstreams: their outlier trackers carry over when nothing they track changed.
    var previousUpstreams: [String: UpstreamPool] = [:]
    /// The running state and its configuration: traffic control carries over where its settings did not change.
    var previousState: (state: RuntimeState, config: GatewayConfig)?
    let group: any EventLoopGroup
    let logger: Logger
    /// Where routes and upstreams register their metrics; nil compiles without metrics.
    var registry: PrometheusCollectorRegistry?
    /// The files the routes' `auth` reads, loaded (`AuthMaterials.load`); a route whose files are missing here
    /// refuses every request 503 rather than letting one through unchecked.
    var auth = AuthMaterials()
    /// Servers made anew (not taken over), so that a compile that fails can close them.
    private let ledger = Ledger()
    var started: [UpstreamServer] { ledger.created }

    /// Notes a server this compile made (closed again if the compile fails).
    func record(_ server: UpstreamServer) { ledger.created.append(server) }

    private final class Ledger {
        var created: [UpstreamServer] = []
    }
    /// Where repeated events (ejections, servers taken out) are logged once, then summarised.
    var events: ThrottledLogger

    init(previous: [ServerKey: UpstreamServer], group: any EventLoopGroup, logger: Logger, events: ThrottledLogger? = nil) {
        self.previous = previous
        self.group = group
        self.logger = logger
        self.events = events ?? ThrottledLogger(logger: logger, eventLoop: nil)
    }

    /// What makes two upstream servers the same one across a reload.
    struct ServerKey: Hashable {
        let address: String
        let zone: String?
        let weight: Int
        let settings: PoolSettings
        let healthCheck: HealthCheckConfig?
    }

    func compile(_ config: GatewayConfig, generation: Int) throws -> (state: RuntimeState, servers: [ServerKey: UpstreamServer]) {
        let now = TrafficClock.now()
        var traffic = TrafficCompiler(group: group, logger: logger)
        if let (state, old) = previousState {
            traffic.previousRoutes = state.routeTraffic
            traffic.previousUpstreams = state.upstreams.compactMapValues(\.traffic)
            if let protection = state.protection, let config = old.protection {
                traffic.previousProtection = (config, protection)
            }
            if let limiter = state.globalLimiter, let config = old.globalRateLimit {
                traffic.previousGlobal = (config, limiter)
            }
        }
        var servers: [ServerKey: UpstreamServer] = [:]
        var upstreams: [String: UpstreamPool] = [:]
        for upstream in config.upstreams {
            var members: [UpstreamServer] = []
            var backups: [UpstreamServer] = []
            let anyTLS = upstream.tls || upstream.servers.contains(where: \.tls)
            let http2 = upstream.protocol == .h2
            let tls = anyTLS
                ? try UpstreamTLS(upstream.tlsSettings, upstream: upstream.name, alpn: http2 ? ["h2"] : ["http/1.1"])
                : nil
            for server in upstream.servers {
                var settings = Self.poolSettings(upstream, server)
                settings.http2 = http2
                if upstream.tls || server.tls { settings.tls = tls }
                let key = ServerKey(
                    address: server.address, zone: server.zone, weight: server.weight, settings: settings,
                    healthCheck: upstream.healthCheck)
                let member = servers[key] ?? previous[key] ?? {
                    let made = UpstreamServer(
                        target: UpstreamTarget(host: server.host, port: server.port), zone: server.zone,
                        weight: server.weight, settings: settings, group: group, healthCheck: upstream.healthCheck,
                        logger: logger, events: events)
                    ledger.created.append(made)
                    return made
                }()
                servers[key] = member
                if server.backup { backups.append(member) } else { members.append(member) }
            }
            let all = members + backups
            var outlier: OutlierTracker?
            if let settings = upstream.outlier {
                if let old = previousUpstreams[upstream.name], let tracker = old.outlier,
                    tracker.configuration == settings, old.servers.count == all.count,
                    zip(old.servers, all).allSatisfy({ $0 === $1 })
                {
                    outlier = tracker
                } else {
                    outlier = OutlierTracker(configuration: settings, serverCount: all.count, events: events)
                }
            }
            let zoneRouting = config.server.zone.map {
                ZoneRouting(localZone: $0, zoneMinSize: upstream.zoneMinSize, panicThreshold: upstream.panicThreshold)
            }
            upstreams[upstream.name] = UpstreamPool(
                name: upstream.name, servers: members, backups: backups, algorithm: upstream.balance,
                panicThreshold: upstream.panicThreshold, hashKey: upstream.hashKey, outlier: outlier,
                zoneRouting: zoneRouting,
                retryBudget: RetryBudget(
                    budgetPercent: upstream.retryBudget * 100, minRetryConcurrency: upstream.retryBudgetMinimum),
                slowStart: upstream.slowStart, traffic: traffic.upstream(upstream, now: now),
                metrics: registry.map {
                    UpstreamMetrics(upstream: upstream.name, zones: Set(upstream.servers.map(\.zone)), registry: $0)
                },
                group: group)
        }
        let globalLimiter = traffic.globalLimiter(config.globalRateLimit)
        var routeTraffic: [String: RouteTraffic] = [:]
        for route in config.routes {
            routeTraffic[route.name] = traffic.route(
                route, global: config.globalRateLimit, globalLimiter: globalLimiter, now: now)
        }
        var filters: [String: RouteFilters] = [:]
        for route in config.routes where !route.filters.isEmpty {
            filters[route.name] = routeFilters(route, upstreams: upstreams, servers: &servers)
        }
        let routes = try Self.routeTable(
            config.routes, upstreams: upstreams, traffic: routeTraffic, filters: filters, registry: registry,
            group: group)
        let state = RuntimeState(
            routes: routes, upstreams: upstreams, generation: generation, routeTraffic: routeTraffic,
            protection: traffic.protection(config.protection, now: now),
            trustedProxies: TrustedProxies(config.server.trustedProxies), globalLimiter: globalLimiter,
            pathNormalizer: PathNormalizer(
                mergeSlashes: config.server.mergeSlashes,
                escapedSlashes: EscapedSlashes(rawValue: config.server.escapedSlashes.rawValue) ?? .reject),
            requestBufferSize: config.server.requestBufferSize)
        state.compresses = config.routes.contains { $0.compression != nil }
        return (state, servers)
    }

    static func poolSettings(_ upstream: UpstreamConfig, _ server: UpstreamServerConfig) -> PoolSettings {
        var settings = PoolSettings()
        settings.keepalive = upstream.keepalive
        settings.idleTimeout = TimeAmount(upstream.keepaliveTimeout)
        settings.maxRequestsPerConnection = upstream.keepaliveRequests
        settings.maxConnections = server.maxConnections ?? upstream.maxConnections
        settings.queue = upstream.queue
        settings.queueTimeout = TimeAmount(upstream.queueTimeout)
        settings.connectTimeout = TimeAmount(upstream.connectTimeout)
        settings.maxFails = upstream.maxFails
        settings.failTimeout = upstream.failTimeout
        return settings
    }

    /// One router per virtual host (exact name, `*.suffix`, or none), each route under every method it allows.
    static func routeTable(
        _ routes: [RouteConfig], upstreams: [String: UpstreamPool], traffic: [String: RouteTraffic] = [:],
        filters: [String: RouteFilters] = [:], registry: PrometheusCollectorRegistry? = nil,
        group: (any EventLoopGroup)? = nil
    ) throws -> RouteTable {
        var builders: [String: RouterBuilder<ProxyRoute>] = [:]
        var preflightRoutes: [(host: String, route: ProxyRoute)] = []
        // A route that answers itself (`return`) has no upstream: it gets one without servers, never asked.
        let none = routes.contains { $0.filters.directAnswer != nil }
            ? group.map { UpstreamPool(name: "-", servers: [], group: $0) } : nil
        for config in routes {
            guard let upstream = upstreams[config.upstream] ?? (config.filters.directAnswer != nil ? none : nil) else {
                throw ConfigErrors([
                    ConfigError(location: config.location, section: "[route \(config.name)]", key: "upstream",
                                message: "no [upstream] named '\(config.upstream)'")
                ])
            }
            var route = ProxyRoute(
                name: config.name, pattern: config.match, upstream: upstream, timeout: TimeAmount(config.timeout),
                idleTimeout: TimeAmount(config.idleTimeout), retries: config.retries, hostRewrite: config.hostRewrite)
            route.retryPolicy = config.retryPolicy
            route.retryNonIdempotent = config.retryNonIdempotent
            route.hsts = config.hsts
            route.compression = config.compression
            route.websocket = config.websocket
            route.tunnelTimeout = TimeAmount(config.tunnelTimeout)
            route.allowsTrace = config.methods.contains("TRACE")
            route.traffic = traffic[config.name]
            route.filters = filters[config.name]
            let preflights = config.filters.cors != nil && !config.methods.isEmpty && !config.methods.contains("OPTIONS")
            if preflights { route.corsOnlyOptions = config.methods }
            route.metrics = registry.map {
                RouteMetrics(name: config.name, hasRateLimits: !config.rateLimits.isEmpty, registry: $0)
            }
            route.splitKey = config.splitKey
            if config.splits.count > 1 {
                route.splits = config.splits.compactMap { split in upstreams[split.upstream].map { ($0, split.weight) } }
            }
            if let canary = config.canary, let target = upstreams[canary.upstream] {
                route.canary = (canary.header, canary.value, target)
            }
            let hosts = config.hosts.isEmpty ? [""] : config.hosts
            if preflights { preflightRoutes += hosts.map { ($0, route) } }
            let methods: [String?] = config.methods.isEmpty ? [nil] : config.methods
            for host in hosts {
                for method in methods {
                    do {
                        try builders[host, default: RouterBuilder()].add(method, config.match, route)
                    } catch {
                        throw ConfigErrors([
                            ConfigError(location: config.location, section: "[route \(config.name)]", key: "match",
                                        message: error.description)
                        ])
                    }
                }
            }
        }
        // Preflights reach a CORS route whatever its methods, unless another route serves OPTIONS there.
        for (host, route) in preflightRoutes {
            try? builders[host, default: RouterBuilder()].add("OPTIONS", route.pattern, route)
        }
        let options = RouterOptions(redirectTrailingSlash: false, redirectFixedPath: false)
        var exact: [String: Router<ProxyRoute>] = [:]
        var wildcards: [(String, Router<ProxyRoute>)] = []
        var fallback: Router<ProxyRoute>?
        for (host, builder) in builders {
            let router = builder.build(options: options)
            if host.isEmpty {
                fallback = router
            } else if host.hasPrefix("*.") {
                wildcards.append((String(host.dropFirst()), router))
            } else {
                exact[host] = router
            }
        }
        return RouteTable(exact: exact, wildcards: wildcards, fallback: fallback)
    }
}

extension TimeAmount {
    /// A Swift `Duration` as NIO's `TimeAmount`.
    init(_ duration: Duration) {
        self = .nanoseconds(duration.wholeNanoseconds)
    }
}
