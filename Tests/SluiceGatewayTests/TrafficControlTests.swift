import NIOCore
import SluiceConfig
import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import SluiceTraffic
import Testing

@testable import SluiceGateway

/// A gateway in front of one demo backend, with `routes` (INI text) and `upstreamExtra` lines in `[upstream demo]`.
func trafficGateway(
    backend port: Int, upstreamExtra: String = "", serverExtra: String = "", routes: String
) async throws -> (Gateway, Int) {
    try await makeGateway(
        """
        [server]
        listen = 127.0.0.1:0
        access_log = off
        log_level = critical
        \(serverExtra)

        [upstream demo]
        server = 127.0.0.1:\(port)
        \(upstreamExtra)

        \(routes)
        """)
}

/// `GET target` on a new connection to `port`.
private func get(_ port: Int, _ target: String, _ headers: [(String, String)] = []) async throws -> TestResponse {
    try await TestHTTP.request(port: port, "GET", target, headers: headers)
}

/// Runs `body` against a gateway in front of one demo backend (see `trafficGateway`), then stops both.
func withTrafficGateway(
    upstreamExtra: String = "", serverExtra: String = "", routes: String,
    _ body: (Gateway, Int) async throws -> Void
) async throws {
    let backends = try await startBackends(["a1"])
    let (gateway, port) = try await trafficGateway(
        backend: backends[0].server.port!, upstreamExtra: upstreamExtra, serverExtra: serverExtra, routes: routes)
    do {
        try await body(gateway, port)
    } catch {
        await gateway.shutdown()
        for backend in backends { await backend.server.shutdown() }
        throw error
    }
    await gateway.shutdown()
    for backend in backends { await backend.server.shutdown() }
}


@Suite(.serialized) struct TrafficControlTests {
    @Test func routeLimitAnswers429WithRateLimitHeaders() async throws {
        try await withTrafficGateway(
            routes: "[route ping]\nmatch = /ping\nupstream = demo\nrate_limit = 5/m burst=5\n"
        ) { (gateway, port) async throws in
            let socket = try TestSocket(port: port)
            var statuses: [Int] = []
            var last: TestResponse?
            for _ in 0..<8 {
                try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                let response = try await socket.readResponse()
                statuses.append(response.status)
                last = response
            }
            #expect(statuses == [200, 200, 200, 200, 200, 429, 429, 429])
            let limited = try #require(last)
            #expect(limited.header("ratelimit-limit") == "5")
            #expect(limited.header("ratelimit-remaining") == "0")
            // One token every 12 s: the next one is at most 12 s away.
            let retryAfter = try #require(limited.header("retry-after").flatMap { Int($0) })
            #expect((1...12).contains(retryAfter))
            #expect(limited.header("ratelimit-reset").flatMap { Int($0) } != nil)
            #expect(gateway.stats.rateLimited.load(ordering: .relaxed) == 3)
        }
    }

    @Test func perKeyLimitsAreSeparateAndStackWithTheRouteLimit() async throws {
        try await withTrafficGateway(
            routes: """
                [route ping]
                match = /ping
                upstream = demo
                rate_limit = 2/m key=header:X-Api-Key
                rate_limit = 5/m
                """
        ) { (_, port) async throws in
            func status(_ key: String) async throws -> Int {
                try await get(port, "/ping", [("X-Api-Key", key)]).status
            }
            #expect(try await status("a") == 200)
            #expect(try await status("a") == 200)
            #expect(try await status("a") == 429)
            #expect(try await status("b") == 200)
            #expect(try await status("b") == 200)
            #expect(try await status("c") == 200)  // the route's fifth token
            #expect(try await status("d") == 429)  // the route limit is spent, whatever the key
        }
    }

    @Test func shadowModeCountsButLetsThrough() async throws {
        try await withTrafficGateway(
            routes: "[route ping]\nmatch = /ping\nupstream = demo\nrate_limit = 1/m mode=shadow\n"
        ) { (gateway, port) async throws in
            for _ in 0..<4 { #expect(try await get(port, "/ping").status == 200) }
            #expect(gateway.stats.rateLimitedShadow.load(ordering: .relaxed) == 3)
            #expect(gateway.stats.rateLimited.load(ordering: .relaxed) == 0)
        }
    }

    @Test func clientIPKeyBelievesForwardedForOnlyFromTrustedProxies() async throws {
        let backends = try await startBackends(["a1"])
        let route = "[route ping]\nmatch = /ping\nupstream = demo\nrate_limit = 1/m key=client_ip\n"
        // Trusted: each forwarded client has its own bucket.
        let (trusting, port) = try await trafficGateway(
            backend: backends[0].server.port!, serverExtra: "trusted_proxies = 127.0.0.0/8", routes: route)
        #expect(try await get(port, "/ping", [("X-Forwarded-For", "203.0.113.1")]).status == 200)
        #expect(try await get(port, "/ping", [("X-Forwarded-For", "203.0.113.2")]).status == 200)
        #expect(try await get(port, "/ping", [("X-Forwarded-For", "203.0.113.1")]).status == 429)
        await trusting.shutdown()
        // Not trusted: the header is ignored, every request is the peer's.
        let (plain, plainPort) = try await trafficGateway(backend: backends[0].server.port!, routes: route)
        #expect(try await get(plainPort, "/ping", [("X-Forwarded-For", "203.0.113.1")]).status == 200)
        #expect(try await get(plainPort, "/ping", [("X-Forwarded-For", "203.0.113.2")]).status == 429)
        await plain.shutdown()
        for backend in backends { await backend.server.shutdown() }
    }

    /// At twice a route's rate, the accepted rate is the limit's within 2%.
    @Test func acceptedRateAtTwiceTheLimitIsTheLimit() async throws {
        try await withTrafficGateway(
            routes: "[route ping]\nmatch = /ping\nupstream = demo\nrate_limit = 200/s burst=20\n"
        ) { (gateway, port) async throws in
            let clients = 4
            let perClientInterval = Duration.milliseconds(10)  // 4 × 100/s = 400/s, twice the limit
            let started = ContinuousClock.now
            let results = try await withThrowingTaskGroup(of: (ok: Int, limited: Int, other: Int).self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        let socket = try TestSocket(port: port)
                        var counts = (ok: 0, limited: 0, other: 0)
                        var next = ContinuousClock.now
                        while next - started < .seconds(2) {
                            try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                            switch try await socket.readResponse().status {
                            case 200: counts.ok += 1
                            case 429: counts.limited += 1
                            default: counts.other += 1
                            }
                            next += perClientInterval
                            try await Task.sleep(until: next)
                        }
                        return counts
                    }
                }
                var total = (ok: 0, limited: 0, other: 0)
                for try await counts in group {
                    total.ok += counts.ok
                    total.limited += counts.limited
                    total.other += counts.other
                }
                return total
            }
            let elapsed = ContinuousClock.now - started
            let seconds = elapsed.secondsDouble
            let sent = results.ok + results.limited
            #expect(results.other == 0)
            // Offered load really was about twice the limit.
            #expect(Double(sent) / seconds > 300)
            // Allowed: the burst, then 200 a second.
            let expected = 20 + 200 * seconds
            print(
                "[measure] route limit 200/s at 2x: sent \(sent), allowed \(results.ok), "
                    + "expected \(Int(expected.rounded()))")
            #expect(abs(Double(results.ok) - expected) <= 0.02 * expected, "ok \(results.ok), expected \(expected)")
        }
    }

    @Test func pacingHoldsExcessRequestsInsteadOfRejecting() async throws {
        try await withTrafficGateway(
            routes: "[route ping]\nmatch = /ping\nupstream = demo\nrate_limit = 20/s burst=1 pace=1s\n"
        ) { (gateway, port) async throws in
            let started = ContinuousClock.now
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<5 { group.addTask { try await get(port, "/ping").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses == [200, 200, 200, 200, 200])
            // Five requests spaced 50 ms apart take at least 200 ms; none was refused.
            #expect(ContinuousClock.now - started >= .milliseconds(200))
            #expect(gateway.stats.paced.load(ordering: .relaxed) == 4)
            // Beyond the bound, requests are refused: 40 at once would need 2 s of queueing.
            let burst = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<40 { group.addTask { try await get(port, "/ping").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(burst.contains(429) && burst.contains(200))
        }
    }

    @Test func breakerOpensOnAFailingUpstreamThenHalfOpensAndCloses() async throws {
        try await withTrafficGateway(
            upstreamExtra: "circuit_breaker = failure_rate=50% window=10 min_calls=4 open=300ms half_open=2",
            routes: "[route all]\nmatch = /*\nupstream = demo\nretries = 0\n"
        ) { (gateway, port) async throws in
            let breaker = try #require(gateway.currentState.upstreams["demo"]?.traffic?.breaker)
            for _ in 0..<4 { #expect(try await get(port, "/ping?status=500").status == 500) }
            #expect(breaker.state(now: TrafficClock.now()) == .open)
            #expect(gateway.stats.breakerOpened.load(ordering: .relaxed) == 1)
            // Open: answered at once, without touching the upstream, marked degraded.
            let upstreamBefore = gateway.stats.upstreamResponses.load(ordering: .relaxed)
            let refused = try await get(port, "/ping")
            #expect(refused.status == 503 && refused.header("sluice-degraded") == "1")
            #expect(refused.header("retry-after") != nil)
            #expect(gateway.stats.upstreamResponses.load(ordering: .relaxed) == upstreamBefore)
            // After `open`, two probes pass and close it.
            try await waitUntil { breaker.state(now: TrafficClock.now()) != .open }
            #expect(try await get(port, "/ping").status == 200)
            #expect(try await get(port, "/ping").status == 200)
            #expect(breaker.state(now: TrafficClock.now()) == .closed)
            #expect(try await get(port, "/ping").status == 200)
        }
    }

    @Test func degradeRuleSwitchesAnOptionalRouteToItsFallbackAndRecovers() async throws {
        try await withTrafficGateway(
            routes: """
                [route users]
                match = /api/v1/users/:id
                upstream = demo
                priority = core

                [route feed]
                match = /api/v1/feed
                upstream = demo
                priority = optional
                degrade = error_ratio=50% window=10s min_requests=4 recovery=300ms
                fallback = status=200 type=application/json body={"items": []}
                """
        ) { (gateway, port) async throws in
            for _ in 0..<4 { #expect(try await get(port, "/api/v1/feed?status=503").status == 503) }
            let degraded = try await get(port, "/api/v1/feed")
            #expect(degraded.status == 200 && degraded.text == #"{"items": []}"#)
            #expect(degraded.header("sluice-degraded") == "1" && degraded.header("content-type") == "application/json")
            // The core route is untouched.
            #expect(try await get(port, "/api/v1/users/7").status == 200)
            // After `recovery`, one probe goes through; its success ends the degradation.
            let rule = try #require(gateway.currentState.routeTraffic["feed"]?.degradeRules.first)
            var recovered: TestResponse?
            for _ in 0..<100 {
                let response = try await get(port, "/api/v1/feed")
                if response.header("sluice-degraded") == nil {
                    recovered = response
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(recovered?.status == 200 && recovered?.text.contains("\"instance\"") == true)
            #expect(rule.state(now: TrafficClock.now()) == .normal)
            #expect(gateway.stats.degraded.load(ordering: .relaxed) >= 1)
        }
    }

    @Test func upstreamDegradeRuleShedsOptionalRoutesFirst() async throws {
        try await withTrafficGateway(
            upstreamExtra: "degrade = error_count=3 window=10s min_requests=1 recovery=30s shed=optional",
            routes: """
                [route users]
                match = /api/v1/users/:id
                upstream = demo
                priority = core

                [route feed]
                match = /api/v1/feed
                upstream = demo
                priority = optional
                """
        ) { (gateway, port) async throws in
            // Four failures through the core route trip the upstream's rule (more than 3 errors).
            for _ in 0..<4 {
                #expect(try await get(port, "/api/v1/users/1?status=500").status == 500)
            }
            let feed = try await get(port, "/api/v1/feed")
            #expect(feed.status == 503 && feed.header("sluice-degraded") == "1")
            // The core route keeps its upstream.
            #expect(try await get(port, "/api/v1/users/1").status == 200)
        }
    }

    @Test func adminSwitchDegradesARouteAndStatusShowsIt() async throws {
        try await withTrafficGateway(
            serverExtra: "admin = 127.0.0.1:0\nadmin_token = test-token-0123456789",
            routes: "[route feed]\nmatch = /api/v1/feed\nupstream = demo\npriority = optional\n"
        ) { (gateway, port) async throws in
            let admin = try #require(gateway.adminAddress?.port)
            let token = [("Authorization", "Bearer test-token-0123456789")]
            #expect(try await get(port, "/api/v1/feed").status == 200)
            // State-changing requests need the token; a cross-site page and a rebound name are refused.
            let anonymous = try await TestHTTP.request(port: admin, "POST", "/degrade?route=feed&state=on")
            #expect(anonymous.status == 401 && anonymous.header("www-authenticate")?.hasPrefix("Bearer") == true)
            let wrong = [("Authorization", "Bearer test-token-0123456788")]
            #expect(try await TestHTTP.request(port: admin, "POST", "/degrade?route=feed&state=on", headers: wrong).status == 401)
            let csrf = token + [("Origin", "https://evil.example")]
            #expect(try await TestHTTP.request(port: admin, "POST", "/degrade?route=feed&state=on", headers: csrf).status == 403)
            #expect(try await TestHTTP.request(port: admin, "GET", "/status", headers: [("Host", "evil.example:\(admin)")]).status == 403)
            #expect(try await TestHTTP.request(port: admin, "GET", "/status", headers: [("Sec-Fetch-Site", "cross-site")]).status == 403)
            #expect(try await get(port, "/api/v1/feed").status == 200, "nothing changed")
            let switched = try await TestHTTP.request(port: admin, "POST", "/degrade?route=feed&state=on", headers: token)
            #expect(switched.status == 200 && switched.text.contains("\"degraded\": true"))
            let degraded = try await get(port, "/api/v1/feed")
            #expect(degraded.status == 503 && degraded.header("sluice-degraded") == "1")
            let status = try await get(admin, "/status")
            #expect(status.status == 200 && status.text.contains("\"manual_degrade\": true"))
            #expect(try await TestHTTP.request(port: admin, "POST", "/degrade?route=nope&state=on", headers: token).status == 404)
            _ = try await TestHTTP.request(port: admin, "POST", "/degrade?route=feed&state=off", headers: token)
            #expect(try await get(port, "/api/v1/feed").status == 200)
            let metrics = try await get(admin, "/metrics")
            #expect(metrics.text.contains("sluice_degraded_total 1"))
        }
    }

    @Test func faultInjectionAbortsAndDelays() async throws {
        try await withTrafficGateway(
            routes: """
                [route drill]
                match = /ping
                upstream = demo
                fault = abort=503 percent=100

                [route headers]
                match = /api/v1/users/:id
                upstream = demo
                fault_header = on
                """
        ) { (gateway, port) async throws in
            let aborted = try await get(port, "/ping")
            #expect(aborted.status == 503 && aborted.header("sluice-fault") == "abort")
            #expect(try await get(port, "/api/v1/users/1").status == 200)
            let asked = try await get(port, "/api/v1/users/1", [("Sluice-Fault-Abort", "418")])
            #expect(asked.status == 418)
            let started = ContinuousClock.now
            let delayed = try await get(port, "/api/v1/users/1", [("Sluice-Fault-Delay", "120ms")])
            #expect(delayed.status == 200 && ContinuousClock.now - started >= .milliseconds(120))
            #expect(gateway.stats.faultAborts.load(ordering: .relaxed) == 2)
            #expect(gateway.stats.faultDelays.load(ordering: .relaxed) == 1)
        }
    }

    @Test func maxRequestsRefusesAtOnceAboveTheCap() async throws {
        try await withTrafficGateway(
            upstreamExtra: "max_requests = 2", routes: "[route all]\nmatch = /*\nupstream = demo\n"
        ) { (gateway, port) async throws in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { try await get(port, "/ping?delay=300ms").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count >= 2)
            #expect(statuses.filter { $0 == 503 }.count >= 1)
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 })
            #expect(gateway.stats.overflow.load(ordering: .relaxed) == statuses.filter { $0 == 503 }.count)
            #expect(gateway.currentState.upstreams["demo"]?.traffic?.maxRequests?.current == 0)
        }
    }

    @Test func maxPendingRefusesWhenTooManyWaitForAConnection() async throws {
        try await withTrafficGateway(
            upstreamExtra: "max_connections = 1\nmax_pending = 1", routes: "[route all]\nmatch = /*\nupstream = demo\n"
        ) { (gateway, port) async throws in
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<8 { group.addTask { try await get(port, "/ping?delay=200ms").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.contains(200) && statuses.contains(503))
            #expect(statuses.allSatisfy { $0 == 200 || $0 == 503 })
            #expect(gateway.stats.overflow.load(ordering: .relaxed) >= 1)
            #expect(gateway.currentState.upstreams["demo"]?.traffic?.maxPending?.current == 0)
        }
    }

    @Test func adaptiveConcurrencyRefusesAboveItsLimitAtOnce() async throws {
        try await withTrafficGateway(
            upstreamExtra: "adaptive_concurrency = min=2 max=2", routes: "[route all]\nmatch = /*\nupstream = demo\n"
        ) { (gateway, port) async throws in
            let limiter = try #require(gateway.currentState.upstreams["demo"]?.traffic?.adaptive)
            #expect(limiter.limit == 2)
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<6 { group.addTask { try await get(port, "/ping?delay=300ms").status } }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(statuses.filter { $0 == 200 }.count >= 2)
            #expect(statuses.filter { $0 == 503 }.count >= 1)
            #expect(gateway.stats.adaptiveRejected.load(ordering: .relaxed) == statuses.filter { $0 == 503 }.count)
            #expect(limiter.inflight == 0)
        }
    }

    @Test func reloadKeepsTrafficStateWhenItsSettingsDidNotChange() async throws {
        let backends = try await startBackends(["a1"])
        let routes = "[route ping]\nmatch = /ping\nupstream = demo\nrate_limit = 2/m\n"
        let text = """
            [server]
            listen = 127.0.0.1:0
            access_log = off
            log_level = critical

            [upstream demo]
            server = 127.0.0.1:\(backends[0].server.port!)
            circuit_breaker = failure_rate=50%

            \(routes)
            """
        let (gateway, port) = try await makeGateway(text)
        let before = try #require(gateway.currentState.routeTraffic["ping"])
        let breaker = try #require(gateway.currentState.upstreams["demo"]?.traffic)
        #expect(try await get(port, "/ping").status == 200)
        #expect(try await get(port, "/ping").status == 200)
        let sameListener = text.replacingAll("127.0.0.1:0", with: "127.0.0.1:\(port)")
        try await gateway.apply(ConfigLoader.parse(sameListener))
        #expect(gateway.currentState.routeTraffic["ping"] === before)
        #expect(gateway.currentState.upstreams["demo"]?.traffic === breaker)
        // The bucket kept its level: still empty.
        #expect(try await get(port, "/ping").status == 429)
        await gateway.shutdown()
        for backend in backends { await backend.server.shutdown() }
    }
}
