import SluiceConfig
import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import SluiceTraffic
import Testing

@testable import SluiceGateway

/// Two gateways share one limit through a real `redis-server` (started by the test on a free port).
@Suite(.serialized) struct GlobalRateLimitTests {
    func config(backend: Int, redis: Int, timeout: String = "500ms") -> String {
        """
        [server]
        listen = 127.0.0.1:0
        access_log = off
        log_level = critical

        [upstream demo]
        server = 127.0.0.1:\(backend)

        [route ping]
        match = /ping
        upstream = demo
        rate_limit = 100/s burst=10 key=header:X-Api-Key

        [ratelimit]
        backend = redis://127.0.0.1:\(redis)
        batch = 10
        timeout = \(timeout)
        """
    }

    @Test func twoGatewaysHoldOneSharedLimit() async throws {
        let redis = try await RedisServer()
        let backends = try await startBackends(["a1"])
        let text = config(backend: backends[0].server.port!, redis: redis.port)
        let (first, firstPort) = try await makeGateway(text)
        let (second, secondPort) = try await makeGateway(text)
        let started = ContinuousClock.now
        let duration = Duration.seconds(3)
        let (ok, limited, other) = try await withThrowingTaskGroup(of: (Int, Int, Int).self) { group in
            for port in [firstPort, firstPort, secondPort, secondPort] {
                group.addTask {
                    let socket = try TestSocket(port: port)
                    var counts = (0, 0, 0)
                    while ContinuousClock.now - started < duration {
                        try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\nX-Api-Key: tenant-1\r\n\r\n")
                        switch try await socket.readResponse().status {
                        case 200: counts.0 += 1
                        case 429: counts.1 += 1
                        default: counts.2 += 1
                        }
                    }
                    return counts
                }
            }
            return try await group.reduce(into: (0, 0, 0)) { total, counts in
                total.0 += counts.0
                total.1 += counts.1
                total.2 += counts.2
            }
        }
        let elapsed = ContinuousClock.now - started
        let seconds = elapsed.secondsDouble
        let expected = 10 + 100 * seconds
        print("[measure] two gateways on one Redis: allowed \(ok) of \(ok + limited), expected \(Int(expected.rounded()))")
        #expect(other == 0)
        // The offered load was well above the limit, and the two gateways together allowed the limit within 5%.
        #expect(Double(ok + limited) > 2 * expected)
        #expect(abs(Double(ok) - expected) <= 0.05 * expected, "allowed \(ok), expected \(expected)")
        // Both gateways really talked to Redis, and none failed open.
        #expect(first.stats.globalFailOpen.load(ordering: .relaxed) == 0)
        #expect(second.stats.globalFailOpen.load(ordering: .relaxed) == 0)
        #expect(first.stats.rateLimited.load(ordering: .relaxed) > 0)
        #expect(second.stats.rateLimited.load(ordering: .relaxed) > 0)
        await first.shutdown()
        await second.shutdown()
        for backend in backends { await backend.server.shutdown() }
        redis.kill()
    }

    @Test func redisDownFailsOpen() async throws {
        let redis = try await RedisServer()
        let backends = try await startBackends(["a1"])
        let (gateway, port) = try await makeGateway(
            config(backend: backends[0].server.port!, redis: redis.port, timeout: "50ms"))
        #expect(try await TestHTTP.request(port: port, "GET", "/ping", headers: [("X-Api-Key", "k")]).status == 200)
        redis.kill()
        // Every request still gets through, counted as failing open.
        for _ in 0..<30 {
            #expect(try await TestHTTP.request(port: port, "GET", "/ping", headers: [("X-Api-Key", "k")]).status == 200)
        }
        #expect(gateway.stats.globalFailOpen.load(ordering: .relaxed) > 0)
        await gateway.shutdown()
        for backend in backends { await backend.server.shutdown() }
    }
}
