import AsyncHTTPClient
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SluiceServer
import SluiceTraffic
import SluiceWeb
@testable import SluiceWebClient
import Testing

@Suite struct CallPropagationTests {
    @Test func anIncomingTraceKeepsItsIdAndFlagsAndGetsThisCallAsParent() {
        let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        let propagation = CallPropagation(requestID: "req-1", traceparent: incoming, tracestate: "congo=t61rcWkgMzE")
        var headers: HTTPHeaders = ["x-request-id": "caller's own", "tracestate": "stale"]
        propagation.apply(to: &headers, spanID: 0x0123_4567_89ab_cdef)
        #expect(headers["x-request-id"] == ["req-1"])
        #expect(headers["traceparent"] == ["00-4bf92f3577b34da6a3ce929d0e0e4736-0123456789abcdef-00"])
        #expect(headers["tracestate"] == ["congo=t61rcWkgMzE"])
    }

    @Test func withoutATraceA32HexRequestIdStartsOne() {
        let id = "0af7651916cd43dd8448eb211c80319c"
        var headers: HTTPHeaders = ["tracestate": "orphan"]
        CallPropagation(requestID: id, traceparent: "garbage", tracestate: "orphan").apply(to: &headers, spanID: 1)
        #expect(headers["traceparent"] == ["00-\(id)-0000000000000001-01"])
        // A tracestate without a valid traceparent means nothing (W3C Trace Context §3.3): dropped.
        #expect(headers["tracestate"].isEmpty)
    }

    @Test func otherwiseANewTraceIsMade() throws {
        var headers: HTTPHeaders = [:]
        CallPropagation(requestID: "short-id").apply(to: &headers, spanID: 2)
        let parent = try #require(headers.first(name: "traceparent"))
        #expect(TraceContext.parse(parent) != nil)
        #expect(parent.hasSuffix("-0000000000000002-01"))
        #expect(headers["x-request-id"] == ["short-id"])
        var bare: HTTPHeaders = [:]
        CallPropagation(baggage: "user=7").apply(to: &bare, spanID: 3)
        #expect(bare["x-request-id"].isEmpty)
        #expect(bare["baggage"] == ["user=7"])
    }

    @Test func theEarlierOfTheRequestsDeadlineAndTheCallsTimeoutWins() {
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        #expect(CallPropagation().deadline(timeout: .seconds(2), now: now) == now + .seconds(2))
        let soon = CallPropagation(deadline: now + .milliseconds(300))
        #expect(soon.deadline(timeout: .seconds(2), now: now) == now + .milliseconds(300))
        let late = CallPropagation(deadline: now + .seconds(5))
        #expect(late.deadline(timeout: .seconds(2), now: now) == now + .seconds(2))
    }

    @Test func theBreakerTableIsBoundedAndKeepsOpenBreakers() throws {
        let policy = CircuitBreakerPolicy(window: .calls(2), minCalls: 2, openDuration: .seconds(60))
        let breakers = TargetBreakers(policy: policy, limit: 3)
        let now = Duration.seconds(100)
        let failing = breakers.breaker(for: "http://down:80", now: now)
        for _ in 0..<2 {
            let permit = try #require(failing.tryAcquire(now: now).permit)
            _ = failing.record(permit, failed: true, duration: .milliseconds(1), now: now)
        }
        #expect(failing.state(now: now) == .open)
        for index in 0..<10 { _ = breakers.breaker(for: "http://host\(index):80", now: now) }
        #expect(breakers.count == 3)
        // The open breaker was never the one to go.
        #expect(breakers.breaker(for: "http://down:80", now: now) === failing)
    }

    @Test func targetsAreSchemeHostAndPort() {
        #expect(ServiceTarget.key(of: "http://Users:8080/users/7?x=1") == "http://users:8080")
        #expect(ServiceTarget.key(of: "http://users/users") == "http://users:80")
        #expect(ServiceTarget.key(of: "https://api.example.com") == "https://api.example.com:443")
        #expect(ServiceTarget.key(of: "http://u:p@host:81/") == "http://host:81")
        #expect(ServiceTarget.key(of: "http://[::1]:9000/x") == "http://[::1]:9000")
        #expect(ServiceTarget.key(of: "http://[::1]/x") == "http://[::1]:80")
        for bad in ["ftp://x/", "users:8080/x", "http:///x", "http://h:0/", "http://h:99999/", "http://h:x/"] {
            #expect(ServiceTarget.key(of: bad) == nil, "\(bad)")
        }
    }
}

/// An upstream service: echoes what it was sent, fails on demand, answers slowly or at length.
private func upstream(hits: NIOLockedValueBox<Int>) throws -> Engine {
    let engine = Engine()
    engine.use { c in
        hits.withLockedValue { $0 += 1 }
        try c.next()
    }
    try engine.get("/echo") { c in
        try c.json(.ok, [
            "requestID": c.header("x-request-id") ?? "", "traceparent": c.header("traceparent") ?? "",
            "tracestate": c.header("tracestate") ?? "",
        ])
    }
    try engine.post("/echo") { c in c.data(.created, contentType: "application/json", c.body ?? ByteBuffer()) }
    try engine.get("/fail") { c in c.text(.internalServerError, "down\n") }
    try engine.get("/big") { c in c.text(.ok, String(repeating: "x", count: 4096)) }
    try engine.get("/slow") { c async throws in
        try await Task.sleep(for: .seconds(30))
        c.text(.ok, "late\n")
    }
    return engine
}

private struct Echo: Codable, Equatable {
    let requestID: String
    let traceparent: String
    let tracestate: String
}

@Suite struct ServiceClientTests {
    @Test func aCallCarriesTheRequestsIdAndTrace() async throws {
        let hits = NIOLockedValueBox(0)
        try await upstream(hits: hits).test(.live()) { service in
            let port = try #require(service.port)
            let client = ServiceClient(timeout: .seconds(5))
            let front = Engine()
            front.use(RequestID())
            try front.get("/orders") { c async throws in
                let echo = try await client.get("http://127.0.0.1:\(port)/echo", for: c).decode(Echo.self)
                try c.json(.ok, echo)
            }
            try await front.test { client in
                let answer = try await client.get("/orders", headers: [
                    "x-request-id": "order-42", "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                    "tracestate": "a=1",
                ])
                #expect(answer.status == .ok)
                let echo = try answer.json(Echo.self)
                #expect(echo.requestID == "order-42")
                #expect(echo.traceparent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-"))
                #expect(echo.traceparent.hasSuffix("-01"))
                #expect(!echo.traceparent.contains("00f067aa0ba902b7"))
                #expect(echo.tracestate == "a=1")
            }
            // JSON out and back.
            let sent = Echo(requestID: "r", traceparent: "t", tracestate: "s")
            let back = try await client.post("http://127.0.0.1:\(port)/echo", json: sent, for: nil)
            #expect(back.status == .created)
            #expect(try back.decode(Echo.self) == sent)
        }
    }

    @Test func theRequestsDeadlineBoundsTheCall() async throws {
        let hits = NIOLockedValueBox(0)
        try await upstream(hits: hits).test(.live()) { service in
            let port = try #require(service.port)
            let client = ServiceClient(timeout: .seconds(60))
            let front = Engine()
            try front.get("/slow", .sync(Timeout(.milliseconds(300), status: .gatewayTimeout)), .async { c in
                _ = try await client.get("http://127.0.0.1:\(port)/slow", for: c)
                c.text(.ok, "should not get here\n")
            })
            try await front.test { client in
                let answer = try await client.get("/slow")
                #expect(answer.status == .gatewayTimeout)
            }
            // Without a request, the call's own deadline.
            await #expect(throws: ServiceCallError.deadlineExceeded(target: "http://127.0.0.1:\(port)")) {
                _ = try await client.execute(
                    .GET, "http://127.0.0.1:\(port)/slow", propagation: CallPropagation(), timeout: .milliseconds(200))
            }
            // A deadline already past makes no call.
            let before = hits.withLockedValue { $0 }
            await #expect(throws: ServiceCallError.deadlineExceeded(target: "http://127.0.0.1:\(port)")) {
                _ = try await client.execute(
                    .GET, "http://127.0.0.1:\(port)/echo", propagation: CallPropagation(deadline: .now() - .seconds(1)))
            }
            #expect(hits.withLockedValue { $0 } == before)
        }
    }

    @Test func aFailingTargetOpensItsBreakerAndIsNoLongerCalled() async throws {
        let hits = NIOLockedValueBox(0)
        try await upstream(hits: hits).test(.live()) { service in
            let port = try #require(service.port)
            let target = "http://127.0.0.1:\(port)"
            let policy = CircuitBreakerPolicy(window: .calls(4), minCalls: 4, failureRatePercent: 50, openDuration: .seconds(60))
            let client = ServiceClient(timeout: .seconds(5), breaker: policy)
            #expect(client.circuitState(of: target) == nil)
            for _ in 0..<4 {
                let answer = try await client.get("\(target)/fail", for: nil)
                #expect(answer.status == .internalServerError)
                #expect(throws: ServiceCallError.failedStatus(target: target, status: .internalServerError)) {
                    try answer.requireSuccess()
                }
            }
            #expect(client.circuitState(of: target) == .open)
            #expect(hits.withLockedValue { $0 } == 4)
            do {
                _ = try await client.get("\(target)/echo", for: nil)
                Issue.record("an open breaker let a call through")
            } catch let error as ServiceCallError {
                guard case .circuitOpen(let failing, _) = error else {
                    Issue.record("expected circuitOpen, got \(error)")
                    return
                }
                #expect(failing == target)
                #expect(error.status == .serviceUnavailable)
            }
            #expect(hits.withLockedValue { $0 } == 4)
        }
    }

    @Test func unreachableAndOversizedAnswersAreBadGateways() async throws {
        let hits = NIOLockedValueBox(0)
        // A port that was just free: nothing listens there.
        let closedPort = try await Engine().test(.live()) { service in try #require(service.port) }
        // Refused connections fail the call at once, not after async-http-client's retries until the deadline.
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { Task { try? await http.shutdown() } }
        let client = ServiceClient(httpClient: http, timeout: .seconds(5), maxResponseSize: 1024)
        do {
            _ = try await client.get("http://127.0.0.1:\(closedPort)/x", for: nil)
            Issue.record("a call to a closed port succeeded")
        } catch let error as ServiceCallError {
            #expect(error.status == .badGateway)
            #expect(error.message == "http://127.0.0.1:\(closedPort) could not be reached")
        }
        await #expect(throws: ServiceCallError.unreachable(target: "mailto:x", reason: "not an absolute http or https URL")) {
            _ = try await client.get("mailto:x", for: nil)
        }
        try await upstream(hits: hits).test(.live()) { service in
            let port = try #require(service.port)
            await #expect(throws: ServiceCallError.responseTooLarge(target: "http://127.0.0.1:\(port)", limit: 1024)) {
                _ = try await client.get("http://127.0.0.1:\(port)/big", for: nil)
            }
        }
    }
}

@Suite struct LiveTestModeTests {
    @Test func liveModeGoesThroughARealServer() async throws {
        let engine = Engine()
        try engine.get("/ping") { c in c.text(.ok, "pong\n") }
        try engine.post("/echo") { c in c.data(.ok, contentType: "text/plain", c.body ?? ByteBuffer()) }
        try await engine.test(.live()) { client in
            #expect(client.port != nil)
            let answer = try await client.get("/ping")
            #expect(answer.status == .ok)
            #expect(answer.text == "pong\n")
            // Written by the server's framing, not by the in-process sink.
            #expect(answer.header("date") != nil)
            #expect(answer.header("content-length") == "5")
            let echoed = try await client.post("/echo", "hello", contentType: "text/plain")
            #expect(echoed.text == "hello")
            #expect(try await client.get("/missing").status == .notFound)
        }
        try await engine.test { client in #expect(client.port == nil) }
    }

    @Test func liveModeAppliesTheServersLimits() async throws {
        let engine = Engine()
        try engine.post("/echo") { c in c.data(.ok, contentType: "text/plain", c.body ?? ByteBuffer()) }
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxBodySize = 8
        try await engine.test(.live(configuration)) { client in
            let short = try await client.post("/echo", "short", contentType: "text/plain")
            #expect(short.status == .ok)
            #expect(try await client.post("/echo", "far too long", contentType: "text/plain").status == .payloadTooLarge)
        }
    }
}
