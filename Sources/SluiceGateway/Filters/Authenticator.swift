import Atomics
import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceAuth
import SluiceConfig
import SluiceFilters

/// A route's `auth`, compiled: decides whether a request may pass and who it is from. API keys are checked on the
/// event loop (one SHA-256); JWTs are verified by jwt-kit off the loop, htpasswd hashes (bcrypt costs
/// milliseconds) on NIO's thread pool, and forward auth asks the auth service over pooled connections. Verified
/// credentials are remembered per event loop (`AuthCache`, bounded, keyed by a hash of the credential, never past
/// a JWT's `exp`), so a steady client costs one hash and one lookup.
final class Authenticator: Sendable {
    /// Who the request is from, and what goes upstream about it.
    struct Pass: Sendable {
        let identity: String
        /// Headers set on the upstream request (the identity header, claims, the auth service's headers).
        let headers: [(String, String)]
    }

    enum Verdict {
        case pass(Pass)
        /// The gateway answers: status, extra headers, body.
        case refuse(HTTPResponseStatus, [(String, String)], String)
    }

    enum Decision {
        case now(Verdict)
        case later(EventLoopFuture<Verdict>)
    }

    enum Method: Sendable {
        case jwt(JWTVerifier?, JWTAuthConfig)
        case apiKey(APIKeyStore?, [CredentialSource])
        case basic(Htpasswd?, realm: String)
        case forward(ForwardAuthConfig, UpstreamServer)
    }

    let method: Method
    /// `api_key`'s credential sources, and whether one is the query: read per request without copying `method`.
    let apiKeySources: [CredentialSource]?
    let readsQuery: Bool
    let config: AuthConfig
    let metrics: FilterMetrics?
    private let caches: LoopLocal<CacheBox>
    /// htpasswd checks queued or running on the thread pool; beyond `maxHashing` requests are refused 503 rather
    /// than queued without bound (each costs milliseconds of CPU).
    private let hashing = ManagedAtomic(0)
    static let maxHashing = 64
    /// Outcomes, for `/metrics` and tests.
    let passed = ManagedAtomic(0)
    let refused = ManagedAtomic(0)
    let serviceFailures = ManagedAtomic(0)

    private final class CacheBox: @unchecked Sendable {
        var cache: AuthCache<CachedPass>
        init(capacity: Int) { cache = AuthCache(capacity: max(capacity, 1)) }
    }

    private struct CachedPass: Sendable {
        let identity: String
        let headers: [(String, String)]
    }

    init(method: Method, config: AuthConfig, group: any EventLoopGroup, metrics: FilterMetrics? = nil) {
        self.method = method
        if case .apiKey(_, let sources) = method {
            apiKeySources = sources
            readsQuery = sources.contains { if case .query = $0 { true } else { false } }
        } else {
            apiKeySources = nil
            readsQuery = true
        }
        self.config = config
        self.metrics = metrics
        let capacity = config.cacheSize
        self.caches = LoopLocal(group: group) { _ in CacheBox(capacity: capacity) }
    }

    private var caching: Bool { config.cacheFor > .zero && config.cacheSize > 0 }

    /// Decides for a request. `query` is the target's query (without `?`); call on `eventLoop`.
    func authenticate(
        _ head: HTTPRequestHead, query: Substring, clientIP: String, scheme: String, on eventLoop: any EventLoop
    ) -> Decision {
        switch method {
        case .apiKey(_, let sources):
            return .now(checkAPIKey(Self.credential(sources, head: head, query: query)))
        case .jwt(let verifier, let jwt):
            let now = Gateway.unixTime()
            guard let verifier else { return .now(unavailable()) }
            guard let token = Self.bearer(jwt.sources, head: head, query: query) else {
                return .now(challenge("Bearer realm=\"sluice\"", "bearer token missing\n"))
            }
            let cacheKey = caching ? AuthCache<CachedPass>.key(token) : ""
            if caching, let hit = caches.value(on: eventLoop).cache.value(for: cacheKey, now: now) {
                return .now(pass(identity: hit.identity, extra: hit.headers))
            }
            let promise = eventLoop.makePromise(of: JWTVerdict.self)
            let text = String(token)
            promise.completeWithTask { await verifier.verify(text, now: now) }
            return .later(promise.futureResult.map { [self] verdict in
                switch verdict {
                case .valid(let identity):
                    let extra = jwt.claimHeaders.compactMap { pair in
                        identity.claims[pair.claim].map { (pair.header, Self.headerSafe($0)) }
                    }
                    if caching {
                        var until = now + Double(config.cacheFor.components.seconds)
                        if let expires = identity.expires { until = min(until, expires) }
                        caches.value(on: eventLoop).cache.insert(
                            CachedPass(identity: identity.identity, headers: extra), for: cacheKey, until: until, now: now)
                    }
                    return pass(identity: identity.identity, extra: extra)
                case .invalid(let reason):
                    return challenge(
                        "Bearer realm=\"sluice\", error=\"invalid_token\", error_description=\"\(reason)\"",
                        "bearer token not valid: \(reason)\n")
                }
            })
        case .basic(let file, let realm):
            let now = Gateway.unixTime()
            guard let file else { return .now(unavailable()) }
            let challengeText = "Basic realm=\"\(realm)\", charset=\"UTF-8\""
            guard let authorization = head.headers.first(name: "authorization"),
                let credentials = BasicCredentials.parse(authorization: authorization)
            else {
                return .now(challenge(challengeText, "authentication required\n"))
            }
            let cacheKey = caching ? AuthCache<CachedPass>.key(authorization) : ""
            if caching, let hit = caches.value(on: eventLoop).cache.value(for: cacheKey, now: now) {
                return .now(pass(identity: hit.identity, extra: []))
            }
            guard hashing.loadThenWrappingIncrement(ordering: .relaxed) < Self.maxHashing else {
                hashing.wrappingDecrement(ordering: .relaxed)
                return .now(.refuse(.serviceUnavailable, [("retry-after", "1")], "too many password checks at once\n"))
            }
            let hashing = self.hashing
            let check = NIOThreadPool.singleton.runIfActive(eventLoop: eventLoop) {
                defer { hashing.wrappingDecrement(ordering: .relaxed) }
                return file.verify(user: credentials.user, password: credentials.password)
            }
            return .later(check.map { [self] valid in
                guard valid else { return challenge(challengeText, "user or password not valid\n") }
                if caching {
                    caches.value(on: eventLoop).cache.insert(
                        CachedPass(identity: credentials.user, headers: []), for: cacheKey,
                        until: now + Double(config.cacheFor.components.seconds), now: now)
                }
                return pass(identity: credentials.user, extra: [])
            }.recover { [self] _ in unavailable() })
        case .forward(let forward, let server):
            return forwardAuth(
                forward, server: server, head: head, clientIP: clientIP, scheme: scheme, now: Gateway.unixTime(), on: eventLoop)
        }
    }

    /// `auth = api_key` for the key the request carried (nil: none).
    func checkAPIKey(_ key: Substring?) -> Verdict {
        guard case .apiKey(let store, _) = method, let store else { return unavailable() }
        guard let key else { return challenge("ApiKey realm=\"sluice\"", "API key missing\n") }
        guard let consumer = store.consumer(forKey: key) else {
            return challenge("ApiKey realm=\"sluice\"", "API key not valid\n")
        }
        return pass(identity: consumer, extra: [])
    }

    private func forwardAuth(
        _ forward: ForwardAuthConfig, server: UpstreamServer, head: HTTPRequestHead, clientIP: String, scheme: String,
        now: Double, on eventLoop: any EventLoop
    ) -> Decision {
        var headers = HTTPHeaders()
        headers.add(name: "host", value: forward.address)
        var keyText = ""
        for name in forward.requestHeaders {
            for value in head.headers[canonicalForm: name] {
                headers.add(name: name, value: String(value))
                keyText += name + ":" + value + "\n"
            }
        }
        let cacheText = keyText
        let cacheKey = caching ? AuthCache<CachedPass>.key(cacheText) : ""
        if caching, !cacheText.isEmpty, let hit = caches.value(on: eventLoop).cache.value(for: cacheKey, now: now) {
            return .now(pass(identity: hit.identity, extra: hit.headers))
        }
        headers.add(name: "x-forwarded-method", value: head.method.rawValue)
        headers.add(name: "x-forwarded-proto", value: scheme)
        if let host = head.headers.first(name: "host") { headers.add(name: "x-forwarded-host", value: host) }
        headers.add(name: "x-forwarded-uri", value: head.uri)
        headers.add(name: "x-forwarded-for", value: clientIP)
        headers.add(name: "content-length", value: "0")
        let request = HTTPRequestHead(version: .http1_1, method: .GET, uri: forward.path, headers: headers)
        let answer = Subrequest.send(
            request, to: server, on: eventLoop, timeout: TimeAmount(forward.timeout), maxBody: 16 * 1024)
        return .later(answer.map { [self] response -> Verdict in
            let status = response.head.status
            if (200..<300).contains(status.code) {
                var extra: [(String, String)] = []
                for name in forward.responseHeaders {
                    for value in response.head.headers[canonicalForm: name] { extra.append((name, Self.headerSafe(String(value)))) }
                }
                let identity = forward.identityHeader.flatMap { response.head.headers.first(name: $0) } ?? ""
                if caching, !cacheText.isEmpty {
                    caches.value(on: eventLoop).cache.insert(
                        CachedPass(identity: identity, headers: extra), for: cacheKey,
                        until: now + Double(config.cacheFor.components.seconds), now: now)
                }
                return pass(identity: identity, extra: extra)
            }
            if status.code >= 500 { return serviceDown(forward) }
            // The auth service's refusal goes to the client as it gave it (Traefik's ForwardAuth).
            refused.wrappingIncrement(ordering: .relaxed)
            metrics?.record(.refused)
            var relay: [(String, String)] = []
            for name in ["www-authenticate", "location", "set-cookie", "content-type"] {
                for value in response.head.headers[canonicalForm: name] { relay.append((name, String(value))) }
            }
            let body = response.body.map { String(buffer: $0) } ?? ""
            return .refuse(status, relay, body)
        }.recover { [self] _ in serviceDown(forward) })
    }

    private func serviceDown(_ forward: ForwardAuthConfig) -> Verdict {
        serviceFailures.wrappingIncrement(ordering: .relaxed)
        metrics?.record(.unavailable)
        if forward.failOpen { return pass(identity: "", extra: []) }
        return .refuse(.serviceUnavailable, [("retry-after", "1")], "authentication service unavailable\n")
    }

    /// A pass decided without asking again (the connection's repeated API key).
    func recordPass() {
        passed.wrappingIncrement(ordering: .relaxed)
        metrics?.record(.passed)
    }

    private func pass(identity: String, extra: [(String, String)]) -> Verdict {
        passed.wrappingIncrement(ordering: .relaxed)
        metrics?.record(.passed)
        var headers = extra
        if !identity.isEmpty { headers.append((config.identityHeader, Self.headerSafe(identity))) }
        return .pass(Pass(identity: identity, headers: headers))
    }

    private func challenge(_ value: String, _ body: String) -> Verdict {
        refused.wrappingIncrement(ordering: .relaxed)
        metrics?.record(.refused)
        return .refuse(.unauthorized, [("www-authenticate", value)], body)
    }

    /// The route's key files did not load: refuse (never let a request through unchecked).
    private func unavailable() -> Verdict {
        serviceFailures.wrappingIncrement(ordering: .relaxed)
        metrics?.record(.unavailable)
        return .refuse(.serviceUnavailable, [], "authentication unavailable\n")
    }

    // MARK: Reading credentials

    /// The first credential found in `sources`.
    static func credential(_ sources: [CredentialSource], head: HTTPRequestHead, query: Substring) -> Substring? {
        for source in sources {
            switch source {
            case .header(let name):
                if let value = head.headers.first(name: name), !value.isEmpty { return Substring(value) }
            case .cookie(let name):
                if let value = ProxyHeaders.cookie(name, in: head.headers) { return value }
            case .query(let name):
                if let value = queryValue(name, in: query), !value.isEmpty { return value }
            }
        }
        return nil
    }

    /// A bearer token: from `Authorization: Bearer …`, or as the whole value of another source.
    static func bearer(_ sources: [CredentialSource], head: HTTPRequestHead, query: Substring) -> Substring? {
        for source in sources {
            if case .header("authorization") = source {
                for value in head.headers[canonicalForm: "authorization"] {
                    let parts = value.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
                    if parts.count == 2, parts[0].lowercased() == "bearer" {
                        return parts[1].drop { $0 == " " }
                    }
                }
            } else if let value = credential([source], head: head, query: query) {
                return value
            }
        }
        return nil
    }

    /// The raw value of query parameter `name` (`a=1&key=v`), not decoded.
    static func queryValue(_ name: String, in query: Substring) -> Substring? {
        for pair in query.split(separator: "&") {
            if pair.hasPrefix(name + "=") { return pair.dropFirst(name.count + 1) }
        }
        return nil
    }

    /// A value safe for a header: control characters removed.
    static func headerSafe(_ text: String) -> String { Template.headerSafe(text) }

    func close() {
        if case .forward(_, let server) = method { server.close() }
    }
}
