import SluiceConfig
import SluiceFilters
import Testing

/// The API-gateway keys of `[route]` and the DNS keys: what they read into, and the errors they give.
@Suite struct FilterConfigTests {
    func route(_ lines: String) -> String {
        validHead + """
            [route r]
            match = /api/*rest
            upstream = users
            \(lines)

            """
    }

    @Test func filtersReadIntoTheRoute() throws {
        let config = try ConfigLoader.parse(route("""
            strip_prefix = /api
            add_prefix = /v2
            rewrite = ^/a/(.*)$ /b/$1
            request_header = set X-Route $route
            response_header = add X-Up $upstream_server
            hide_header = Server, X-Powered-By
            cors = origins=https://a.example methods=GET
            allow = 10.0.0.0/8
            deny = 10.1.0.0/16
            mirror = users percent=10 max_body=1k max_in_flight=5
            """))
        let filters = try #require(config.routes.first?.filters)
        #expect(filters.rewrite.stripPrefix == "/api")
        #expect(filters.rewrite.addPrefix == "/v2")
        #expect(filters.rewrite.rewrite != nil)
        #expect(filters.requestHeaders.count == 1)
        #expect(filters.responseHeaders.count == 3, "the rule, then hide_header's two removals")
        #expect(filters.cors != nil)
        #expect(filters.access?.allow.count == 1)
        #expect(filters.access?.deny.count == 1)
        #expect(filters.mirror == {
            var mirror = MirrorConfig(upstream: "users")
            mirror.share = 0.1
            mirror.maxBody = 1024
            mirror.maxInFlight = 5
            return mirror
        }())
        #expect(config.routes.first?.allUpstreams == ["users", "users"])
    }

    @Test func aRouteThatAnswersItselfNeedsNoUpstream() throws {
        let config = try ConfigLoader.parse(validHead + """
            [route health]
            match = /healthz
            return = 200 body=ok

            """)
        #expect(config.routes.first?.filters.directAnswer?.status == 200)
        #expect(config.routes.first?.allUpstreams == [])
        let error = singleError(validHead + """
            [route health]
            match = /healthz
            return = 200 body=ok
            upstream = users

            """)
        #expect(error?.message.contains("has no use for an upstream") == true)
    }

    @Test func badFilterValuesNameTheLineAndKey() {
        let cases: [(String, String, String)] = [
            ("rewrite = ^/a/(unclosed /b", "rewrite", "rewrite"),
            ("strip_prefix = api", "strip_prefix", "/"),
            ("request_header = set Content-Length 5", "request_header", "content-length"),
            ("request_header = set X-A $nosuch", "request_header", "nosuch"),
            ("return = 301", "return", "URL"),
            ("cors = origins=* credentials=on", "cors", "credentials"),
            ("allow = 10.0.0.0/33", "allow", "10.0.0.0/33"),
            ("mirror = users percent=200%", "mirror", "percent"),
            ("auth = oauth", "auth", "jwt, api_key, basic or forward URL"),
            ("auth = forward https://x/check", "auth", "http://HOST:PORT/PATH"),
            ("jwt_issuer = x", "jwt_issuer", "needs 'auth'"),
            ("rate_limit = 5/s key=identity", "rate_limit", "needs 'auth'"),
        ]
        for (line, key, fragment) in cases {
            let errors = configErrors(route(line))
            #expect(errors.count == 1, "\(line): \(errors)")
            #expect(errors.first?.key == key, "\(line): \(errors)")
            #expect(errors.first?.location?.line == 9, "\(line): \(errors)")
            #expect(errors.first?.description.lowercased().contains(fragment.lowercased()) == true, "\(line): \(errors)")
        }
    }

    @Test func authKindsReadTheirKeysAndRefuseOthers() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        let keys = folder.create("keys", "abcdefghijklmnopqrst alice\n")
        let config = try ConfigLoader.parse(route("""
            auth = api_key
            api_keys = \(keys)
            api_key_from = header:X-Key, query:key
            auth_identity_header = X-Consumer
            auth_cache = 1m
            """))
        let auth = try #require(config.routes.first?.filters.auth)
        #expect(auth.identityHeader == "x-consumer")
        #expect(auth.cacheFor == .seconds(60))
        #expect(auth.kind == .apiKey(file: keys, sources: [.header("x-key"), .query("key")]))

        let stray = configErrors(route("""
            auth = api_key
            api_keys = \(keys)
            htpasswd = \(keys)
            """))
        #expect(stray.count == 1)
        #expect(stray.first?.message.contains("does not apply to auth = api_key") == true)

        let missing = configErrors(route("""
            auth = basic
            htpasswd = \(folder.path)/nope
            """))
        #expect(missing.count == 1)
        #expect(missing.first?.key == "htpasswd")
        #expect(missing.first?.message.contains("cannot read") == true)

        let forward = try ConfigLoader.parse(route("""
            auth = forward http://127.0.0.1:9000/check
            forward_auth_timeout = 250ms
            forward_auth_response_headers = X-User-Id
            auth_failure = allow
            """))
        guard case .forward(let settings) = forward.routes.first?.filters.auth?.kind else {
            Issue.record("not a forward auth")
            return
        }
        #expect(settings.port == 9000)
        #expect(settings.path == "/check")
        #expect(settings.timeout == .milliseconds(250))
        #expect(settings.failOpen)
        #expect(forward.routes.first?.filters.auth?.identityHeaders == ["x-auth-identity", "x-user-id"])
    }

    @Test func resolveServersAndResolvers() throws {
        let config = try ConfigLoader.parse("""
            [server]
            listen = 8080
            resolver = 127.0.0.1:5353, ::1
            resolver_timeout = 500ms

            [upstream users]
            server = users.internal:8081 zone=az1 resolve
            server = _users._tcp.internal srv resolve
            resolve_interval = 5s

            """)
        #expect(config.server.resolvers.map(\.description) == ["127.0.0.1:5353", "[::1]:53"])
        #expect(config.server.resolverTimeout == .milliseconds(500))
        let servers = try #require(config.upstreams.first?.servers)
        #expect(servers[0].resolve && !servers[0].srv && servers[0].port == 8081)
        #expect(servers[1].resolve && servers[1].srv && servers[1].host == "_users._tcp.internal")
        #expect(config.upstreams.first?.resolveInterval == .seconds(5))

        let literal = singleError("""
            [server]
            listen = 8080

            [upstream users]
            server = 10.0.0.1:80 resolve

            """)
        #expect(literal?.message.contains("needs a DNS name") == true)
        let srvWithoutResolve = singleError("""
            [server]
            listen = 8080

            [upstream users]
            server = _users._tcp.internal srv

            """)
        #expect(srvWithoutResolve?.key == "server")
    }
}
