import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SluiceRedis
import SluiceTestSupport
import Testing

/// The caller's clock: time since the test started.
struct TestClock: Sendable {
    let origin = ContinuousClock.now
    var now: Duration { ContinuousClock.now - origin }
}

struct Tally: Sendable, CustomStringConvertible {
    var allowed = 0
    var limited = 0
    var failOpen = 0
    var answeredLocally = 0

    var total: Int { allowed + limited + failOpen }

    mutating func record(_ decision: GlobalRateLimitDecision) {
        switch decision {
        case .allowed: allowed += 1
        case .limited: limited += 1
        case .failOpen: failOpen += 1
        }
    }

    var description: String {
        "allowed \(allowed), limited \(limited), failOpen \(failOpen) (\(answeredLocally) answered locally)"
    }
}

/// Offers `perTick` requests every millisecond on `loop` until `end`, each first to `acquireLocally` and then to
/// `acquire`; completes with the tally once every request has its decision.
func drive(
    _ limiter: RedisRateLimiter, on loop: any EventLoop, clock: TestClock, until end: ContinuousClock.Instant,
    limit: String = "api", key: String, count: Int, period: Duration, burst: Int, perTick: Int
) -> EventLoopFuture<Tally> {
    let promise = loop.makePromise(of: Tally.self)
    loop.execute {
        let tally = NIOLoopBoundBox(Tally(), eventLoop: loop)
        let pending = NIOLoopBoundBox(0, eventLoop: loop)
        let finished = NIOLoopBoundBox(false, eventLoop: loop)
        loop.scheduleRepeatedTask(initialDelay: .zero, delay: .milliseconds(1)) { task in
            guard ContinuousClock.now < end else {
                task.cancel()
                finished.value = true
                if pending.value == 0 { promise.succeed(tally.value) }
                return
            }
            for _ in 0..<perTick {
                let now = clock.now
                if let decision = limiter.acquireLocally(limit: limit, key: key, now: now) {
                    tally.value.record(decision)
                    tally.value.answeredLocally += 1
                    continue
                }
                pending.value += 1
                limiter.acquire(
                    limit: limit, key: key, count: count, period: period, burst: burst, now: now, on: loop
                ).whenSuccess { decision in
                    tally.value.record(decision)
                    pending.value -= 1
                    if finished.value && pending.value == 0 { promise.succeed(tally.value) }
                }
            }
        }
    }
    return promise.futureResult
}

extension AllRedisTests {
    @Suite("RedisRateLimiter against redis-server")
    struct RedisRateLimiterTests {
        let clock = TestClock()

        func acquire(
            _ limiter: RedisRateLimiter, on group: any EventLoopGroup, limit: String = "api", key: String,
            count: Int, period: Duration = .seconds(1), burst: Int
        ) async throws -> GlobalRateLimitDecision {
            let now = clock.now
            if let decision = limiter.acquireLocally(limit: limit, key: key, now: now) { return decision }
            return try await limiter.acquire(
                limit: limit, key: key, count: count, period: period, burst: burst, now: now, on: group.next()
            ).get()
        }

        @Test func holdsCountPerPeriodAndBatches() async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let logs = LogCapture()
            let limiter = RedisRateLimiter(host: "127.0.0.1", port: server.port, group: group, logger: logs.logger)

            // Nothing is known locally before Redis was asked.
            #expect(limiter.acquireLocally(limit: "api", key: "quick", now: clock.now) == nil)
            // 10 per second, all 10 at once: a quick run of 30 gets 10 (11 if a token accrues meanwhile).
            var tally = Tally()
            var retryAfter: Duration?
            for _ in 0..<30 {
                let decision = try await acquire(limiter, on: group, key: "quick", count: 10, burst: 10)
                tally.record(decision)
                if case .limited(let after) = decision { retryAfter = after }
            }
            #expect((10...11).contains(tally.allowed), "\(tally)")
            #expect(tally.failOpen == 0)
            let after = try #require(retryAfter)
            #expect(after > .zero && after <= .seconds(1))
            // Batched: far fewer script calls than allowed requests, and refusals are answered locally.
            #expect(limiter.redisCallCount < 10, "\(limiter.redisCallCount) calls")

            // Another key is independent.
            #expect(try await acquire(limiter, on: group, key: "other", count: 10, burst: 10) == .allowed(remaining: 9))

            // The key exists in Redis with an expiry no longer than the time to refill.
            let client = try await RedisClient.connect(host: "127.0.0.1", port: server.port, on: group.next()).get()
            let ttl = try #require(try await client.send(["PTTL", "sluice:rl:api:quick"]).get().int)
            #expect(ttl > 0 && ttl <= 1001, "PTTL \(ttl)")

            // Sustained: 100/s with burst 10, offered ~1000/s for 1 s, lets through about 110.
            let start = ContinuousClock.now
            let sustained = try await drive(
                limiter, on: group.next(), clock: clock, until: start + .seconds(1), key: "sustained", count: 100,
                period: .seconds(1), burst: 10, perTick: 1
            ).get()
            let elapsed = (ContinuousClock.now - start) / .seconds(1)
            let expected = 10 + 100 * elapsed
            #expect(abs(Double(sustained.allowed) - expected) <= expected * 0.1, "\(sustained), expected \(expected)")
            #expect(sustained.answeredLocally > sustained.total / 2, "\(sustained)")
            #expect(logs.count(.warning) == 0)

            try await client.close().get()
            try await limiter.shutdown().get()
            try await group.shutdownGracefully()
        }

        @Test func concurrentRequestsForAKeyShareRedisCalls() async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let limiter = RedisRateLimiter(
                host: "127.0.0.1", port: server.port, group: group, logger: LogCapture().logger)
            let loop = group.next()
            let now = clock.now
            // 50 requests at once, all before the first reply (submitted in one event loop tick).
            let futures = try await loop.submit {
                (0..<50).map { _ in
                    limiter.acquire(
                        limit: "api", key: "crowd", count: 1000, period: .seconds(1), burst: 100, now: now, on: loop
                    )
                }
            }.get()
            var tally = Tally()
            for future in futures { tally.record(try await future.get()) }
            #expect(tally.allowed == 50, "\(tally)")
            // One call for the first request, then batches of 10 for the 49 that joined it.
            #expect(limiter.redisCallCount <= 7, "\(limiter.redisCallCount) calls")

            // With fewer tokens than requests, the rest are refused, still in few calls.
            let more = try await loop.submit {
                (0..<50).map { _ in
                    limiter.acquire(
                        limit: "api", key: "scarce", count: 5, period: .seconds(10), burst: 5, now: now, on: loop)
                }
            }.get()
            var scarce = Tally()
            for future in more { scarce.record(try await future.get()) }
            #expect(scarce.allowed == 5 && scarce.limited == 45, "\(scarce)")

            try await limiter.shutdown().get()
            try await group.shutdownGracefully()
        }

        @Test func twoInstancesShareOneLimit() async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let groupA = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let groupB = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let logs = LogCapture()
            // A generous timeout: this test is about sharing, and a scheduling hiccup on a busy machine must not
            // fail open.
            let a = RedisRateLimiter(
                host: "127.0.0.1", port: server.port, group: groupA, batch: 10, timeout: .milliseconds(500),
                logger: logs.logger
            )
            let b = RedisRateLimiter(
                host: "127.0.0.1", port: server.port, group: groupB, batch: 10, timeout: .milliseconds(500),
                logger: logs.logger
            )
            // Connect both first, on another key, so connecting is not part of the measured window.
            _ = try await acquire(a, on: groupA, key: "warmup", count: 1000, burst: 1000)
            _ = try await acquire(b, on: groupB, key: "warmup", count: 1000, burst: 1000)

            // 200/s, burst 20; each instance offers ~3000/s (3 per 1 ms tick) for 3 s.
            let start = ContinuousClock.now
            let end = start + .seconds(3)
            async let tallyA = drive(
                a, on: groupA.next(), clock: clock, until: end, key: "shared", count: 200, period: .seconds(1),
                burst: 20,
                perTick: 3
            ).get()
            async let tallyB = drive(
                b, on: groupB.next(), clock: clock, until: end, key: "shared", count: 200, period: .seconds(1),
                burst: 20,
                perTick: 3
            ).get()
            let (resultA, resultB) = try await (tallyA, tallyB)
            let elapsed = (end - start) / .seconds(1)
            let expected = 20 + 200 * elapsed
            let allowed = resultA.allowed + resultB.allowed
            let calls = a.redisCallCount + b.redisCallCount
            print(
                "two instances: A \(resultA); B \(resultB); allowed \(allowed) of expected \(Int(expected)) "
                    + "(\(String(Double(allowed) / expected * 100).prefix(5)) %), \(calls) Redis calls for "
                    + "\(resultA.total + resultB.total) requests"
            )
            #expect(resultA.failOpen + resultB.failOpen == 0)
            #expect(abs(Double(allowed) - expected) <= expected * 0.05, "allowed \(allowed), expected \(expected)")
            // Both instances got a real share, and the traffic was far above the limit.
            #expect(resultA.allowed > allowed / 5 && resultB.allowed > allowed / 5)
            #expect(resultA.total + resultB.total > 5 * allowed)
            // Redis saw far fewer calls than requests.
            #expect(calls * 5 < resultA.total + resultB.total)
            #expect(logs.count(.warning) == 0)

            try await a.shutdown().get()
            try await b.shutdown().get()
            try await groupA.shutdownGracefully()
            try await groupB.shutdownGracefully()
        }

        @Test func failsOpenWhenRedisDiesAndRecoversWhenItIsBack() async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let logs = LogCapture()
            let limiter = RedisRateLimiter(
                host: "127.0.0.1", port: server.port, group: group, reconnectBackoff: .milliseconds(300),
                logger: logs.logger
            )
            #expect(try await acquire(limiter, on: group, key: "k0", count: 100, burst: 100) == .allowed(remaining: 99))

            server.kill()
            // Fresh keys, so no lease answers: every decision needs Redis, and each comes quickly.
            var decisions: [GlobalRateLimitDecision] = []
            let started = ContinuousClock.now
            for index in 1...200 {
                decisions.append(try await acquire(limiter, on: group, key: "k\(index)", count: 100, burst: 100))
            }
            let took = ContinuousClock.now - started
            #expect(decisions.allSatisfy { $0 == .failOpen })
            #expect(took < .milliseconds(500), "200 fail-open decisions took \(took)")
            #expect(limiter.failOpenCount == 200)
            #expect(limiter.isInOutage)

            // Past the backoff, reconnect attempts fail too; still failing open, still one warning.
            try await Task.sleep(for: .milliseconds(400))
            for index in 201...210 {
                #expect(try await acquire(limiter, on: group, key: "k\(index)", count: 100, burst: 100) == .failOpen)
            }
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await acquire(limiter, on: group, key: "k211", count: 100, burst: 100) == .failOpen)
            #expect(logs.count(.warning) == 1, "\(logs.entries.map(\.message))")
            #expect(logs.count(.info) == 0)

            // Redis comes back on the same port: within a reconnect backoff or two, decisions come from Redis again.
            try await server.restart()
            let deadline = ContinuousClock.now + .seconds(5)
            var recovered: GlobalRateLimitDecision = .failOpen
            var index = 1000
            while ContinuousClock.now < deadline {
                recovered = try await acquire(limiter, on: group, key: "k\(index)", count: 100, burst: 100)
                if recovered != .failOpen { break }
                index += 1
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(recovered == .allowed(remaining: 99))
            #expect(!limiter.isInOutage)
            #expect(logs.count(.warning) == 1)
            #expect(logs.count(.info) == 1, "\(logs.entries.map(\.message))")
            #expect(logs.entries.last?.message.contains("reachable again") == true)

            try await limiter.shutdown().get()
            try await group.shutdownGracefully()
        }

        @Test func failsOpenOnTimeoutWhenRedisHangs() async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let logs = LogCapture()
            let limiter = RedisRateLimiter(
                host: "127.0.0.1", port: server.port, group: group, timeout: .milliseconds(50),
                reconnectBackoff: .milliseconds(200), logger: logs.logger
            )
            #expect(try await acquire(limiter, on: group, key: "a", count: 100, burst: 100) == .allowed(remaining: 99))

            // A stopped process keeps its socket open but answers nothing.
            let pid = try #require(server.pid)
            kill(pid, SIGSTOP)
            let started = ContinuousClock.now
            #expect(try await acquire(limiter, on: group, key: "b", count: 100, burst: 100) == .failOpen)
            let firstTook = ContinuousClock.now - started
            #expect(firstTook >= .milliseconds(45) && firstTook < .milliseconds(400), "\(firstTook)")
            let second = ContinuousClock.now
            for index in 0..<50 {
                #expect(try await acquire(limiter, on: group, key: "c\(index)", count: 100, burst: 100) == .failOpen)
            }
            #expect(ContinuousClock.now - second < .milliseconds(200))
            #expect(logs.count(.warning) == 1)

            kill(pid, SIGCONT)
            let deadline = ContinuousClock.now + .seconds(5)
            var decision: GlobalRateLimitDecision = .failOpen
            var index = 0
            while ContinuousClock.now < deadline, decision == .failOpen {
                try await Task.sleep(for: .milliseconds(20))
                decision = try await acquire(limiter, on: group, key: "d\(index)", count: 100, burst: 100)
                index += 1
            }
            #expect(decision == .allowed(remaining: 99))
            #expect(logs.count(.warning) == 1 && logs.count(.info) == 1)

            try await limiter.shutdown().get()
            try await group.shutdownGracefully()
        }

        @Test func failsOpenWhenNothingListens() async throws {
            let port = try RedisServer.freePort()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let logs = LogCapture()
            let limiter = RedisRateLimiter(host: "127.0.0.1", port: port, group: group, logger: logs.logger)
            for index in 0..<20 {
                #expect(try await acquire(limiter, on: group, key: "k\(index)", count: 10, burst: 10) == .failOpen)
            }
            #expect(limiter.failOpenCount == 20)
            #expect(logs.count(.warning) == 1)
            try await limiter.shutdown().get()
            try await group.shutdownGracefully()
        }

        @Test func reloadsTheScriptAfterScriptFlush() async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let limiter = RedisRateLimiter(
                host: "127.0.0.1", port: server.port, group: group, logger: LogCapture().logger)
            #expect(try await acquire(limiter, on: group, key: "a", count: 100, burst: 100) == .allowed(remaining: 99))
            let client = try await RedisClient.connect(host: "127.0.0.1", port: server.port, on: group.next()).get()
            #expect(try await client.send(["SCRIPT", "FLUSH"]).get() == .simpleString("OK"))
            // EVALSHA now gets NOSCRIPT; the limiter falls back to EVAL and carries on.
            #expect(try await acquire(limiter, on: group, key: "b", count: 100, burst: 100) == .allowed(remaining: 99))
            #expect(limiter.failOpenCount == 0)
            try await client.close().get()
            try await limiter.shutdown().get()
            try await group.shutdownGracefully()
        }

        @Test func leaseTableStaysBounded() async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            let limiter = RedisRateLimiter(
                host: "127.0.0.1", port: server.port, group: group, maxLeases: 100, logger: LogCapture().logger
            )
            for index in 0..<500 {
                _ = try await acquire(limiter, on: group, key: "user\(index)", count: 10, burst: 10)
                #expect(limiter.leaseCount <= 100)
            }
            #expect(limiter.failOpenCount == 0)
            try await limiter.shutdown().get()
            try await group.shutdownGracefully()
        }
    }
}
