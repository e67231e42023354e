import Foundation
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Rewrites, header rules, direct answers, CORS and allow/deny through a running gateway.
@Suite(.serialized) struct RequestFilterTests {
    @Test func stripAndAddPrefixKeepTheQuery() async throws {
        try await FilterFixture.with("""
            [route api]
            match = /api/*rest
            upstream = rec
            strip_prefix = /api
            add_prefix = /v2
            """) { gateway in
            let response = try await gateway.request("/api/users/7?x=1&y=2")
            #expect(response.status == 200)
            #expect(gateway.last?.uri == "/v2/users/7?x=1&y=2")
            _ = try await gateway.request("/api/")
            #expect(gateway.last?.uri == "/v2/", "an emptied path becomes /, then the prefix")
        }
    }

    @Test func regexRewriteWithCapturesAndParameters() async throws {
        try await FilterFixture.with("""
            [route old]
            match = /old/*rest
            upstream = rec
            rewrite = ^/old/([a-z]+)/([0-9]+)$ /new/$2/$1

            [route people]
            match = /users/:id
            upstream = rec
            rewrite = /v1/people/:id

            [route moved]
            match = /moved/*rest
            upstream = rec
            rewrite = ^/moved/(.*)$ /here/$1 permanent
            """) { gateway in
            _ = try await gateway.request("/old/abc/42?q=1")
            #expect(gateway.last?.uri == "/new/42/abc?q=1")
            _ = try await gateway.request("/old/ABC/42")
            #expect(gateway.last?.uri == "/old/ABC/42", "no match: the path is left as it is")
            _ = try await gateway.request("/users/77")
            #expect(gateway.last?.uri == "/v1/people/77")
            let count = gateway.upstream.requests.count
            let moved = try await gateway.request("/moved/a/b?z=9")
            #expect(moved.status == 301)
            #expect(moved.header("location") == "/here/a/b?z=9")
            #expect(gateway.upstream.requests.count == count, "a redirect never reaches the upstream")
        }
    }

    @Test func requestAndResponseHeaderRules() async throws {
        try await FilterFixture.with("""
            [route users]
            match = /users/:id
            upstream = rec
            request_header = set X-Route $route
            request_header = set X-User $param_id
            request_header = add X-Client $client_ip
            request_header = set X-Agent [$http_user_agent]
            request_header = remove Cookie
            response_header = set X-Served-By $upstream_server
            response_header = add X-Status $status
            hide_header = Server, X-Powered-By
            """, answerHeaders: [("server", "recorder/1.0"), ("x-powered-by", "php"), ("x-kept", "1")]) { gateway in
            let response = try await gateway.request(
                "/users/9", headers: [("Cookie", "a=b"), ("User-Agent", "tester"), ("X-Route", "forged")])
            #expect(response.status == 200)
            let sent = try #require(gateway.last)
            #expect(sent.header("x-route") == "users", "set replaces the client's own value")
            #expect(sent.header("x-user") == "9")
            #expect(sent.header("x-client") == "127.0.0.1")
            #expect(sent.header("x-agent") == "[tester]")
            #expect(sent.header("cookie") == nil)
            #expect(response.header("x-served-by") == "127.0.0.1:\(gateway.upstream.port)")
            #expect(response.header("x-status") == "200")
            #expect(response.header("x-powered-by") == nil)
            #expect(response.header("server") == nil)
            #expect(response.header("x-kept") == "1")
        }
    }

    @Test func headerValuesNeverCarryLineBreaks() async throws {
        try await FilterFixture.with("""
            [route users]
            match = /u/:id
            upstream = rec
            request_header = set X-Id $param_id
            """) { gateway in
            // %0D%0A stays encoded in the path parameter; nothing can split the header.
            let response = try await gateway.request("/u/a%0D%0AX-Evil:%201")
            #expect(response.status == 200)
            let sent = try #require(gateway.last)
            #expect(sent.header("x-evil") == nil)
            #expect(sent.header("x-id")?.contains("\r") == false)
        }
    }

    @Test func directAnswersGoThroughTheGates() async throws {
        try await FilterFixture.with("""
            [route health]
            match = /healthz
            return = 200 type=text/plain body=ok from $route
            rate_limit = 2/m burst=2 key=route

            [route old]
            match = /old/*rest
            return = 301 https://example.com$request_uri

            [route down]
            match = /down
            return = 503 body=down for maintenance
            response_header = set Retry-After 120
            """) { gateway in
            let first = try await gateway.request("/healthz")
            #expect(first.status == 200)
            #expect(first.text == "ok from health\n")
            #expect(first.header("content-type")?.hasPrefix("text/plain") == true)
            _ = try await gateway.request("/healthz")
            let third = try await gateway.request("/healthz")
            #expect(third.status == 429, "a route that answers itself is still rate limited")
            let moved = try await gateway.request("/old/a?b=1")
            #expect(moved.status == 301)
            #expect(moved.header("location") == "https://example.com/old/a?b=1")
            let down = try await gateway.request("/down")
            #expect(down.status == 503)
            #expect(down.text == "down for maintenance\n")
            #expect(down.header("retry-after") == "120")
            #expect(gateway.upstream.requests.isEmpty)
        }
    }

    @Test func corsPreflightsAndActualAnswers() async throws {
        try await FilterFixture.with("""
            [route api]
            match = /api/*rest
            upstream = rec
            methods = GET, PUT
            cors = origins=https://app.example,https://*.b.example methods=GET,PUT headers=Authorization,Content-Type expose=X-Request-Id credentials=on max_age=10m
            rate_limit = 1/m burst=2 key=route
            """, answerHeaders: [("access-control-allow-origin", "*")]) { gateway in
            let preflight = try await gateway.curl([
                "-X", "OPTIONS", "-H", "Origin: https://x.b.example", "-H", "Access-Control-Request-Method: PUT",
                "-H", "Access-Control-Request-Headers: authorization, content-type",
                "http://127.0.0.1:\(gateway.port)/api/things",
            ])
            #expect(preflight.hasPrefix("HTTP/1.1 204"))
            let lower = preflight.lowercased()
            #expect(lower.contains("access-control-allow-origin: https://x.b.example\r\n"))
            #expect(lower.contains("access-control-allow-credentials: true"))
            #expect(lower.contains("access-control-max-age: 600"))
            #expect(lower.contains("access-control-allow-methods:"))
            #expect(lower.contains("vary: origin"))
            #expect(gateway.upstream.requests.isEmpty, "the gateway answers preflights itself")

            let refused = try await gateway.request(
                "OPTIONS", "/api/things",
                headers: [("Origin", "https://evil.example"), ("Access-Control-Request-Method", "PUT")])
            #expect(refused.status == 403)
            #expect(refused.header("access-control-allow-origin") == nil)
            let plainOptions = try await gateway.request("OPTIONS", "/api/things")
            #expect(plainOptions.status == 405, "OPTIONS is found only for preflights on a route whose methods leave it out")
            #expect(plainOptions.header("allow") == "GET, PUT")
            let badMethod = try await gateway.request(
                "OPTIONS", "/api/things",
                headers: [("Origin", "https://app.example"), ("Access-Control-Request-Method", "DELETE")])
            #expect(badMethod.status == 403)

            let actual = try await gateway.request("/api/things", headers: [("Origin", "https://app.example")])
            #expect(actual.status == 200)
            #expect(actual.header("access-control-allow-origin") == "https://app.example", "the upstream's * is replaced")
            #expect(actual.header("access-control-allow-credentials") == "true")
            #expect(actual.header("access-control-expose-headers")?.lowercased() == "x-request-id")
            #expect(actual.header("vary")?.lowercased().contains("origin") == true)

            let other = try await gateway.request("/api/things", headers: [("Origin", "https://evil.example")])
            #expect(other.status == 200)
            #expect(other.header("access-control-allow-origin") == nil, "no CORS fields for an origin not allowed")
            #expect(other.header("vary")?.lowercased().contains("origin") == true)

            let limited = try await gateway.request("/api/things", headers: [("Origin", "https://app.example")])
            #expect(limited.status == 429)
            #expect(
                limited.header("access-control-allow-origin") == "https://app.example",
                "the gateway's own answers carry CORS fields, so the page can read them")
        }
    }

    /// The upstream's own Vary and Access-Control-* fields, as the copy of its answer notes them: one `Vary: Origin`,
    /// never two; its CORS fields gone; a response rule that replaces Vary is seen too.
    @Test func corsWithTheUpstreamsVaryAndCORSFields() async throws {
        try await FilterFixture.with("""
            [route plain]
            match = /plain/*rest
            upstream = rec
            cors = origins=https://app.example

            [route ruled]
            match = /ruled/*rest
            upstream = rec
            cors = origins=https://app.example
            response_header = set Vary Accept
            """, answerHeaders: [("vary", "Origin"), ("access-control-max-age", "5"), ("Vary", "Accept")]) { gateway in
            for path in ["/plain/x", "/ruled/x"] {
                let answer = try await gateway.request(path, headers: [("Origin", "https://app.example")])
                #expect(answer.status == 200)
                let varies = answer.headers.filter { $0.0 == "vary" }.map { $0.1.lowercased() }
                #expect(varies.filter { $0 == "origin" }.count == 1, "\(path): \(varies)")
                #expect(varies.contains("accept"), "\(path): \(varies)")
                #expect(answer.header("access-control-max-age") == nil, "\(path)")
                #expect(answer.header("access-control-allow-origin") == "https://app.example", "\(path)")
            }
            let noOrigin = try await gateway.request("/plain/x")
            #expect(noOrigin.headers.filter { $0.0 == "vary" && $0.1.lowercased() == "origin" }.count == 1)
            #expect(noOrigin.header("access-control-max-age") == nil)
        }
    }

    /// The same phases on HTTP/2 streams (h2c with prior knowledge, curl as the client).
    @Test func filtersOnHTTP2Streams() async throws {
        try await FilterFixture.with("""
            [route api]
            match = /api/*rest
            upstream = rec
            strip_prefix = /api
            auth = api_key
            api_keys = {dir}/keys
            cors = origins=https://app.example methods=GET
            response_header = set X-Route $route
            """, files: ["keys": AuthGatewayTests.apiKeys], h2c: true) { gateway in
            let url = "http://127.0.0.1:\(gateway.port)/api/things"
            let refused = try await gateway.curl(["--http2-prior-knowledge", url])
            #expect(refused.hasPrefix("HTTP/2 401"))
            let passed = try await gateway.curl([
                "--http2-prior-knowledge", "-H", "X-API-Key: \(AuthGatewayTests.aliceKey)", "-H", "Origin: https://app.example", url,
            ]).lowercased()
            #expect(passed.hasPrefix("http/2 200"))
            #expect(passed.contains("x-route: api"))
            #expect(passed.contains("access-control-allow-origin: https://app.example"))
            #expect(gateway.last?.uri == "/things")
            #expect(gateway.last?.header("x-auth-identity") == "alice")
            let preflight = try await gateway.curl([
                "--http2-prior-knowledge", "-X", "OPTIONS", "-H", "Origin: https://app.example",
                "-H", "Access-Control-Request-Method: GET", url,
            ])
            #expect(preflight.hasPrefix("HTTP/2 204"))
        }
    }

    @Test func allowAndDenyByClientAddress() async throws {
        try await FilterFixture.with("""
            [route open]
            match = /open
            upstream = rec
            allow = 127.0.0.0/8, ::1

            [route closed]
            match = /closed
            upstream = rec
            deny = 127.0.0.1

            [route proxied]
            match = /proxied
            upstream = rec
            allow = 10.1.0.0/16
            """, server: "trusted_proxies = 127.0.0.1/32") { gateway in
            #expect(try await gateway.request("/open").status == 200)
            let closed = try await gateway.request("/closed")
            #expect(closed.status == 403)
            #expect(gateway.upstream.requests.count == 1)
            // Behind a trusted proxy, the address is the one X-Forwarded-For names.
            #expect(try await gateway.request("/proxied", headers: [("X-Forwarded-For", "10.1.2.3")]).status == 200)
            #expect(try await gateway.request("/proxied", headers: [("X-Forwarded-For", "10.2.0.1")]).status == 403)
            #expect(gateway.gateway.stats.accessDenied.load(ordering: .relaxed) == 2)
        }
    }
}
