import NIOCore
import SluiceConfig

extension RuntimeCompiler {
    /// A route's filters with their runtime objects: the authenticator (with its key material, or none when it
    /// did not load), the forward-auth service's server (kept across reloads like any upstream server), the mirror.
    func routeFilters(
        _ route: RouteConfig, upstreams: [String: UpstreamPool], servers: inout [ServerKey: UpstreamServer]
    ) -> RouteFilters {
        let metrics = registry.map { FilterMetrics(route: route.name, registry: $0) }
        var authenticator: Authenticator?
        if let auth = route.filters.auth {
            let method: Authenticator.Method
            switch auth.kind {
            case .jwt(let jwt):
                method = .jwt(self.auth.verifier(jwt), jwt)
            case .apiKey(let file, let sources):
                method = .apiKey(self.auth.apiKeys[file], sources)
            case .basic(let file, let realm):
                method = .basic(self.auth.htpasswd[file], realm: realm)
            case .forward(let forward):
                method = .forward(forward, internalServer(host: forward.host, port: forward.port, servers: &servers))
            }
            authenticator = Authenticator(method: method, config: auth, group: group, metrics: metrics)
        }
        let mirror = route.filters.mirror.flatMap { config in
            upstreams[config.upstream].map { RequestMirror(upstream: $0, config: config, group: group, metrics: metrics) }
        }
        return RouteFilters(route.filters, auth: authenticator, mirror: mirror, metrics: metrics)
    }

    /// A server the gateway itself talks to (a forward-auth service): pooled, no health checks, carried over by
    /// reloads that keep it and retired by those that drop it, like upstream servers.
    func internalServer(host: String, port: Int, servers: inout [ServerKey: UpstreamServer]) -> UpstreamServer {
        var settings = PoolSettings()
        settings.keepalive = 32
        settings.maxConnections = 1024
        settings.queue = 1024
        settings.connectTimeout = .seconds(1)
        settings.maxFails = 0
        let key = ServerKey(
            address: ListenAddress(host: host, port: port).description, zone: nil, weight: 1, settings: settings,
            healthCheck: nil)
        if let server = servers[key] ?? previous[key] {
            servers[key] = server
            return server
        }
        let made = UpstreamServer(
            target: UpstreamTarget(host: host, port: port), zone: nil, weight: 1, settings: settings, group: group,
            logger: logger, events: events)
        record(made)
        servers[key] = made
        return made
    }
}
