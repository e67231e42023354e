import SluiceConfig
import SluiceTraffic
import Testing

@Suite struct TrafficConfigTests {
    static let head = "[server]\nlisten = 127.0.0.1:8080\n[upstream users]\nserver = 10.0.0.1:80\n"

    func route(_ lines: String) throws -> RouteConfig {
        let config = try ConfigLoader.parse(Self.head + "[route r]\nmatch = /\nupstream = users\n" + lines)
        return try #require(config.routes.first)
    }

    @Test func rateLimitsStackAndParseEveryOption() throws {
        let route = try route(
            """
            rate_limit = 1000/s burst=200 key=client_ip
            rate_limit = 10/100ms key=header:X-Api-Key mode=shadow warmup=10s pace=500ms max_keys=5000
            rate_limit = 60/m
            """)
        #expect(route.rateLimits.count == 3)
        let first = route.rateLimits[0]
        #expect(first.count == 1000 && first.period == .seconds(1) && first.burst == 200 && first.key == .clientIP)
        #expect(!first.shadow && first.warmup == nil && first.pace == nil && first.line == 8)
        let second = route.rateLimits[1]
        #expect(second.count == 10 && second.period == .milliseconds(100) && second.key == .header("x-api-key"))
        #expect(second.shadow && second.warmup == .seconds(10) && second.pace == .milliseconds(500))
        #expect(second.maxKeys == 5000 && second.burst == 10)
        #expect(route.rateLimits[2].period == .seconds(60) && route.rateLimits[2].key == .route)
    }

    @Test func badRateLimitNamesLineAndKey() throws {
        let errors = configErrors(Self.head + "[route r]\nmatch = /\nupstream = users\nrate_limit = 100/s brust=5\n")
        #expect(errors.count == 1)
        #expect(errors.first?.location?.line == 8 && errors.first?.key == "rate_limit")
        #expect(errors.first?.description.contains("'burst'") == true)
        #expect(configErrors(Self.head + "[route r]\nmatch = /\nupstream = users\nrate_limit = fast\n").count == 1)
        #expect(configErrors(Self.head + "[route r]\nmatch = /\nupstream = users\nrate_limit = 0/s\n").count == 1)
    }

    @Test func globalScopeNeedsABackend() throws {
        let text = Self.head + "[route r]\nmatch = /\nupstream = users\nrate_limit = 10/s key=client_ip scope=global\n"
        let errors = configErrors(text)
        #expect(errors.count == 1 && errors.first?.description.contains("[ratelimit]") == true)
        let config = try ConfigLoader.parse(text + "[ratelimit]\nbackend = redis://127.0.0.1:6390\nbatch = 5\n")
        #expect(config.globalRateLimit?.host == "127.0.0.1" && config.globalRateLimit?.port == 6390)
        #expect(config.globalRateLimit?.batch == 5 && config.globalRateLimit?.timeout == .milliseconds(50))
        #expect(configErrors(Self.head + "[ratelimit]\nbackend = http://x\n").count == 1)
    }

    @Test func priorityFallbackDegradeFault() throws {
        let route = try route(
            """
            priority = optional
            fallback = status=200 type=application/json body={"items": [], "degraded": true}
            degrade = slow=500ms ratio=60% window=10s min_requests=5 recovery=3s
            degrade = error_count=7
            fault = delay=100ms percent=10
            fault = abort=503 percent=2.5
            fault_header = on
            """)
        #expect(route.priority == .optional)
        #expect(route.fallback?.status == 200 && route.fallback?.contentType == "application/json")
        #expect(route.fallback?.body == Array(#"{"items": [], "degraded": true}"#.utf8))
        #expect(route.degrade.count == 2)
        #expect(route.degrade[0].trigger == .slowRatio(.milliseconds(500), ratio: 0.6))
        #expect(route.degrade[0].minRequests == 5 && route.degrade[0].recovery == .seconds(3))
        #expect(route.degrade[1].trigger == .errorCount(7) && route.degrade[1].window == .seconds(10))
        #expect(route.fault?.delay == .milliseconds(100) && route.fault?.delayFraction == 0.1)
        #expect(route.fault?.abortStatus == 503 && route.fault?.abortFraction == 0.025)
        #expect(route.faultHeader)
        #expect(configErrors(Self.head + "[route r]\nmatch = /\nupstream = users\npriority = vip\n").count == 1)
        #expect(configErrors(Self.head + "[route r]\nmatch = /\nupstream = users\nfallback = file=/no/such\n").count == 1)
        #expect(configErrors(Self.head + "[route r]\nmatch = /\nupstream = users\ndegrade = window=1s\n").count == 1)
    }

    @Test func fallbackFileIsReadRelativeToTheConfigFile() throws {
        let folder = TemporaryFolder()
        defer { folder.delete() }
        folder.create("fallbacks/feed.json", #"{"items": []}"#)
        let main = folder.create(
            "sluice.ini",
            Self.head + "[route r]\nmatch = /\nupstream = users\nfallback = status=200 type=application/json file=fallbacks/feed.json\n")
        let config = try ConfigLoader.load(path: main)
        #expect(config.routes.first?.fallback?.body == Array(#"{"items": []}"#.utf8))
        #expect(config.routes.first?.fallback?.file == "fallbacks/feed.json")
    }

    @Test func upstreamBreakerLimitsAndAdaptive() throws {
        let config = try ConfigLoader.parse(
            Self.head
                + """
                circuit_breaker = failure_rate=40% slow_call=1s slow_rate=80% window=10s min_calls=5 open=2s half_open=3
                max_requests = 100
                max_pending = 10
                adaptive_concurrency = min=4 max=64 initial=8
                """)
        let upstream = try #require(config.upstreams.first)
        let breaker = try #require(upstream.circuitBreaker)
        #expect(breaker.failureRate == 0.4 && breaker.slowCall == .seconds(1) && breaker.slowRate == 0.8)
        #expect(breaker.window == .time(.seconds(10)) && breaker.minCalls == 5 && breaker.open == .seconds(2))
        #expect(breaker.halfOpen == 3)
        #expect(upstream.maxRequests == 100 && upstream.maxPending == 10)
        #expect(upstream.adaptiveConcurrency?.minLimit == 4 && upstream.adaptiveConcurrency?.maxLimit == 64)
        #expect(configErrors(Self.head + "circuit_breaker = window=10 min_calls=20\n").count == 1)
    }

    @Test func protectionAndTrustedProxies() throws {
        let config = try ConfigLoader.parse(
            "[server]\nlisten = 127.0.0.1:8080\ntrusted_proxies = 10.0.0.0/8, ::1\n"
                + "[protection]\nmax_inflight = 500\nrecovery = 2s\n")
        #expect(config.server.trustedProxies.count == 2)
        #expect(config.protection?.maxInflight == 500 && config.protection?.adaptive == true)
        #expect(config.protection?.recovery == .seconds(2))
        #expect(configErrors("[server]\nlisten = 127.0.0.1:8080\ntrusted_proxies = 10.0.0.0/33\n").count == 1)
        #expect(configErrors("[server]\nlisten = 127.0.0.1:8080\n[protection x]\n").count == 1)
    }
}

@Suite struct DemoConfigFileTests {
    @Test func demoFileLoadsWithItsTrafficControl() throws {
        let config = try ConfigLoader.load(path: ConfigLoaderTests.packageRoot + "/etc/demo.ini")
        #expect(config.routes.map(\.priority) == [.core, .normal, .optional, .normal, .normal, .normal, .normal])
        #expect(config.routes[4].filters.auth != nil && config.routes[5].filters.directAnswer != nil)
        #expect(config.routes.first?.rateLimits.first?.key == .clientIP)
        #expect(config.routes[2].fallback?.status == 200 && config.routes[2].degrade.count == 1)
        #expect(config.protection?.adaptive == true && config.upstreams.first?.circuitBreaker != nil)
    }
}
