import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Prometheus
import NIOPosix
import SluiceTestSupport
import SluiceTraffic
import SluiceWeb
import Testing

private func address(_ ip: String) -> SocketAddress { try! SocketAddress(ipAddress: ip, port: 40000) }

@Suite struct TrafficMiddlewareTests {
    @Test func rateLimitRefusesPastTheBucketPerClient() async throws {
        let engine = Engine()
        engine.use(RateLimit(RateLimitPolicy(count: 3, per: .seconds(60)), key: .clientIP))
        try engine.get("/x") { c in c.text(.ok, "ok") }
        try await engine.test { client in
            var remaining: [String?] = []
            for _ in 0..<3 {
                let answer = try await client.execute(.GET, "/x", remoteAddress: address("10.0.0.1"))
                #expect(answer.status == .ok)
                remaining.append(answer.header("ratelimit-remaining"))
            }
            #expect(remaining == ["2", "1", "0"])
            let refused = try await client.execute(.GET, "/x", remoteAddress: address("10.0.0.1"))
            #expect(refused.status == .tooManyRequests)
            #expect(refused.text == #"{"error":"too many requests"}"#)
            #expect(Int(refused.header("retry-after") ?? "") ?? 0 >= 1)
            // Another client has its own bucket.
            #expect(try await client.execute(.GET, "/x", remoteAddress: address("10.0.0.2")).status == .ok)
        }
    }

    @Test func rateLimitByHeaderSharesOneBucketPerValue() async throws {
        let engine = Engine()
        try engine.get("/k", RateLimit(RateLimitPolicy(count: 1, per: .seconds(60)), key: .header("x-api-key"))) { c in
            c.text(.ok, "ok")
        }
        try await engine.test { client in
            _ = try await client.get("/nothing")
            let a: HTTPHeaders = ["x-api-key": "a"]
            let b: HTTPHeaders = ["x-api-key": "b"]
            #expect(try await client.get("/k", headers: a).status == .ok)
            #expect(try await client.get("/k", headers: a).status == .tooManyRequests)
            #expect(try await client.get("/k", headers: b).status == .ok)
        }
    }

    @Test func concurrencyLimitRefusesWhileTheLimitIsInFlight() async throws {
        var random = SystemRandomNumberGenerator()
        let limiter = AdaptiveConcurrencyLimiter(
            policy: AdaptiveConcurrencyPolicy(initialLimit: 1, minLimit: 1, maxLimit: 1),
            now: .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds)), random: &random)
        let engine = Engine()
        let (entered, enteredContinuation) = AsyncStream.makeStream(of: Void.self)
        let release = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: Void.self)
        try engine.get("/slow", .sync(ConcurrencyLimit(limiter)), .async { c in
            enteredContinuation.yield()
            try await release.futureResult.get()
            c.text(.ok, "done")
        })
        try await engine.test { client in
            async let first = client.get("/slow")
            var enteredIterator = entered.makeAsyncIterator()
            _ = await enteredIterator.next()
            #expect(limiter.inflight == 1)
            let refused = try await client.get("/slow")
            #expect(refused.status == .serviceUnavailable)
            #expect(refused.header("retry-after") == "1")
            release.succeed()
            #expect(try await first.status == .ok)
            #expect(limiter.inflight == 0)
        }
    }

    @Test func degradeSendsRequestsToTheFallbackOnceTheRuleTrips() async throws {
        let rule = SharedDegradeRule(
            policy: DegradePolicy(trigger: .errorCount(1), window: .seconds(10), minRequests: 2, recovery: .seconds(60)))
        let engine = Engine()
        let fallback: Handler = { c in c.text(.ok, "cached") }
        try engine.get("/feed", Degrade(rule, fallback: fallback)) { c in c.text(.internalServerError, "broken") }
        try await engine.test { client in
            #expect(try await client.get("/feed").status == .internalServerError)
            #expect(try await client.get("/feed").status == .internalServerError)
            let degraded = try await client.get("/feed")
            #expect(degraded.status == .ok)
            #expect(degraded.text == "cached")
            #expect(degraded.header("sluice-degraded") == "1")
            #expect(rule.state(now: .nanoseconds(Int64(NIODeadline.now().uptimeNanoseconds))) == .degraded)
        }
    }

    @Test func timeoutCancelsTheHandlerAndAnswers503() async throws {
        let engine = Engine()
        let (events, continuation) = AsyncStream.makeStream(of: String.self)
        try engine.get("/slow", .sync(Timeout(.milliseconds(50))), .async { c in
            #expect(c.deadline != nil)
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                continuation.yield("cancelled")
                throw error
            }
        })
        try engine.get("/never", Timeout(.milliseconds(50))) { c in _ = c.respondLater() }
        try await engine.test { client in
            let slow = try await client.get("/slow")
            #expect(slow.status == .serviceUnavailable)
            #expect(slow.text == #"{"error":"the request took longer than 50ms"}"#)
            var iterator = events.makeAsyncIterator()
            #expect(await iterator.next() == "cancelled")
            #expect(try await client.get("/never").status == .serviceUnavailable)
        }
    }

    @Test func bodyLimitAnswers413() async throws {
        let engine = Engine()
        try engine.post("/small", BodyLimit(8)) { c in c.text(.ok, "fits") }
        try await engine.test { client in
            #expect(try await client.post("/small", "12345678").status == .ok)
            let big = try await client.post("/small", "123456789")
            #expect(big.status == .payloadTooLarge)
            #expect(big.text == #"{"error":"the body is larger than 8 bytes"}"#)
        }
    }

    @Test func metricsCountByRoutePatternAndStatus() async throws {
        let registry = PrometheusCollectorRegistry()
        let engine = Engine()
        engine.use(Metrics(prefix: "web", factory: PrometheusMetricsFactory(registry: registry)))
        try engine.get("/users/:id") { c in c.text(.ok, "u") }
        try await engine.test { client in
            _ = try await client.get("/users/1")
            _ = try await client.get("/users/2")
            _ = try await client.get("/nowhere")
        }
        let text = registry.emitToString()
        #expect(text.contains(#"web_requests_total{method="GET",route="/users/:id",status="200"} 2"#))
        #expect(text.contains(#"web_requests_total{method="GET",route="unmatched",status="404"} 1"#))
        #expect(text.contains("web_request_duration_seconds_count"))
    }
}

@Suite struct HTTPMiddlewareTests {
    @Test func corsAnswersPreflightsAndMarksAnswers() async throws {
        let engine = Engine()
        engine.use(try CORS("origins=https://app.example methods=GET,POST headers=Content-Type credentials=on max_age=10m"))
        try engine.get("/data") { c in c.text(.ok, "data") }
        try await engine.test { client in
            let preflight = try await client.execute(.OPTIONS, "/data", headers: [
                "origin": "https://app.example", "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            ])
            #expect(preflight.status == .noContent)
            #expect(preflight.header("access-control-allow-origin") == "https://app.example")
            #expect(preflight.header("access-control-allow-credentials") == "true")
            #expect(preflight.header("access-control-max-age") == "600")
            let refused = try await client.execute(.OPTIONS, "/data", headers: [
                "origin": "https://evil.example", "access-control-request-method": "POST",
            ])
            #expect(refused.status == .forbidden)
            #expect(refused.header("access-control-allow-origin") == nil)
            let actual = try await client.get("/data", headers: ["origin": "https://app.example"])
            #expect(actual.header("access-control-allow-origin") == "https://app.example")
            #expect(actual.header("vary") == "Origin")
            let stranger = try await client.get("/data", headers: ["origin": "https://evil.example"])
            #expect(stranger.status == .ok)
            #expect(stranger.header("access-control-allow-origin") == nil)
        }
    }

    @Test func gzipCompressesWhenAcceptedAndLargeEnough() async throws {
        let engine = Engine()
        engine.use(Gzip(minLength: 100))
        let long = String(repeating: "sluice ", count: 200)
        try engine.get("/long") { c in
            c.setHeader("etag", "\"v1\"")
            c.text(.ok, long)
        }
        try engine.get("/short") { c in c.text(.ok, "short") }
        try engine.get("/png") { c in c.data(.ok, contentType: "image/png", ByteBuffer(string: long)) }
        try await engine.test { client in
            let zipped = try await client.get("/long", headers: ["accept-encoding": "gzip, deflate"])
            #expect(zipped.header("content-encoding") == "gzip")
            #expect(zipped.header("vary") == "Accept-Encoding")
            #expect(zipped.header("etag") == "W/\"v1\"")
            #expect(zipped.body.getBytes(at: 0, length: 2) == [0x1f, 0x8b])
            #expect(zipped.body.readableBytes < long.utf8.count / 10)
            #expect(zipped.header("content-length") == String(zipped.body.readableBytes))
            let plain = try await client.get("/long")
            #expect(plain.header("content-encoding") == nil)
            #expect(plain.header("vary") == "Accept-Encoding")
            #expect(plain.text == long)
            let refused = try await client.get("/long", headers: ["accept-encoding": "gzip;q=0, br"])
            #expect(refused.header("content-encoding") == nil)
            let gzip: HTTPHeaders = ["accept-encoding": "gzip"]
            #expect(try await client.get("/short", headers: gzip).header("content-encoding") == nil)
            #expect(try await client.get("/png", headers: gzip).header("content-encoding") == nil)
        }
    }

    @Test func gzippedAnswersDecompressWithCurl() async throws {
        let engine = Engine()
        engine.use(Gzip())
        let long = (0..<300).map { "line \($0)\n" }.joined()
        try engine.get("/long") { c in c.text(.ok, long) }
        try await withServer(engine) { port in
            let output = try await Command.run("/usr/bin/curl", ["-s", "--compressed", "http://127.0.0.1:\(port)/long"])
            #expect(output.stdout == long)
        }
    }

    @Test func streamedAnswersAreGzippedPartByPart() async throws {
        let engine = Engine()
        engine.use(Gzip())
        let rows = (0..<3).map { part in (0..<40).map { "row \(part)-\($0)\n" }.joined() }
        try engine.get("/export") { c async throws in
            try await c.stream(contentType: "text/csv") { writer in
                for row in rows { try await writer.write(row) }
            }
        }
        try engine.get("/events") { c async throws in
            try await c.eventStream { events in try await events.send(data: String(repeating: "tick ", count: 100)) }
        }
        try await engine.test { client in
            let gzipped = try await client.get("/export", headers: ["accept-encoding": "gzip"])
            #expect(gzipped.header("content-encoding") == "gzip")
            #expect(gzipped.header("vary") == "Accept-Encoding")
            // One flushed part per write, then the member's end.
            #expect(gzipped.parts.count == rows.count + 1)
            #expect(gzipped.body.readableBytes < rows.joined().utf8.count)
            let plain = try await client.get("/export")
            #expect(plain.header("content-encoding") == nil)
            #expect(plain.text == rows.joined())
            // Server-sent events are never compressed (a proxy or browser could hold the parts back).
            let events = try await client.get("/events", headers: ["accept-encoding": "gzip"])
            #expect(events.header("content-encoding") == nil)
        }
        try await withServer(engine) { port in
            let output = try await Command.run("/usr/bin/curl", ["-s", "--compressed", "http://127.0.0.1:\(port)/export"])
            #expect(output.stdout == rows.joined())
        }
    }

    @Test func healthAndReadinessFlipWhenDrainingStarts() async throws {
        let engine = Engine()
        engine.instance = InstanceInfo(name: "todo-1", zone: "az1")
        try engine.health()
        try await engine.test { client in
            let live = try await client.get("/healthz")
            #expect(live.status == .ok)
            #expect(live.text == #"{"status":"ok","instance":"todo-1","zone":"az1"}"#)
            #expect(try await client.get("/readyz").status == .ok)
            engine.readiness.startDraining()
            let draining = try await client.get("/readyz")
            #expect(draining.status == .serviceUnavailable)
            #expect(draining.text == #"{"status":"draining","instance":"todo-1","zone":"az1"}"#)
            #expect(try await client.get("/healthz").status == .ok)
        }
    }
}
