import Synchronization
import Testing

@testable import SluiceTraffic

/// One bucket hammered from several threads of the cooperative pool: the totals are exact whatever the
/// interleaving, because every token is taken by one successful compare-exchange.
@Suite struct TokenBucketConcurrencyTests {
    /// A shared ticket dispenser: attempt `i` is the `i`-th ticket taken by any task.
    final class Tickets: Sendable {
        private let next = Atomic<Int>(0)
        func take() -> Int { next.wrappingAdd(1, ordering: .relaxed).oldValue }
    }

    /// Runs `attempts` attempts spread over `tasks` concurrent tasks; returns how many were admitted.
    private func hammer(tasks: Int, attempts: Int, _ attempt: @escaping @Sendable (Int) -> Bool) async -> Int {
        let tickets = Tickets()
        return await withTaskGroup(of: Int.self) { group in
            for _ in 0..<tasks {
                group.addTask {
                    var admitted = 0
                    while true {
                        let ticket = tickets.take()
                        if ticket >= attempts { return admitted }
                        if attempt(ticket) { admitted += 1 }
                    }
                }
            }
            return await group.reduce(0, +)
        }
    }

    @Test func fourTasksAtOneInstantGetExactlyTheBurst() async {
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 1000, per: .seconds(1), burst: 1000), now: .zero)
        let admitted = await hammer(tasks: 4, attempts: 10_000) { _ in bucket.acquire(now: .zero).isAdmitted }
        #expect(admitted == 1000)
        #expect(bucket.available(now: .zero) == 0)
    }

    /// The clock stands still for the first 1000 tickets (draining the burst), then advances ~0.3 token per
    /// ticket up to ticket 8000, and stands still again for the last 2000 tickets. Tickets are taken in order and
    /// at most 3 others are in flight, so the bucket is never full while time advances (no refill is lost to the
    /// cap) and the last 2000 attempts at the final instant take every token left: exactly
    /// `burst + ⌊count × final ÷ period⌋` pass, however the tasks interleave (tasks that arrive late with an older
    /// `now` only see a bigger debt).
    @Test func fourTasksOnAnAdvancingClockGetExactlyTheRefill() async {
        let step: Int64 = 42_857_142  // ns per ticket: 0.299999994 token at 7/s
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 7, per: .seconds(1), burst: 1000), now: .zero)
        let admitted = await hammer(tasks: 4, attempts: 10_000) { ticket in
            let steps = Int64(min(max(ticket - 1000, 0), 7000))
            return bucket.acquire(now: .nanoseconds(steps * step)).isAdmitted
        }
        let final = Int128(7000) * Int128(step)  // 299 999 994 000 ns: 2099.99996 tokens
        #expect(admitted == 1000 + Int(7 * final / 1_000_000_000))
        #expect(admitted == 3099)
    }

    @Test func fourTasksOnOneKeyOfAKeyedLimiter() async {
        let limiter = KeyedRateLimiter(
            policy: RateLimitPolicy(count: 100, per: .seconds(1), burst: 500), maxKeys: 1000, now: .zero)
        let admitted = await hammer(tasks: 4, attempts: 4000) { ticket in
            // Two keys interleaved: each has its own 500.
            limiter.acquire(key: ticket % 2 == 0 ? "a" : "b", now: .seconds(1)).isAdmitted
        }
        #expect(admitted == 1000)
        #expect(limiter.keyCount == 2)
    }

    /// 50,000 a second on the real clock, from four tasks at once for half a second (several times the limit offered
    /// here even in a debug build): the tokens handed out are the burst plus the rate times the span of the instants
    /// the calls carried, to the token.
    @Test func holdsFiftyThousandASecondUnderContention() async {
        let clock = ContinuousClock()
        let origin = clock.now
        func now() -> Duration { clock.now - origin }
        let bucket = TokenBucket(policy: RateLimitPolicy(count: 50_000, per: .seconds(1), burst: 5_000), now: .zero)
        let results = await withTaskGroup(of: (admitted: Int, calls: Int, first: Duration, last: Duration).self) { group in
            for _ in 0..<4 {
                group.addTask {
                    var admitted = 0
                    var calls = 0
                    var first = Duration.seconds(1_000)
                    var last = Duration.zero
                    while true {
                        let instant = now()
                        if instant >= .milliseconds(500) { break }
                        first = min(first, instant)
                        last = max(last, instant)
                        calls += 1
                        if bucket.acquire(now: instant).isAdmitted { admitted += 1 }
                    }
                    return (admitted, calls, first, last)
                }
            }
            return await group.reduce(into: (admitted: 0, calls: 0, first: Duration.seconds(1_000), last: Duration.zero)) {
                $0.admitted += $1.admitted
                $0.calls += $1.calls
                $0.first = min($0.first, $1.first)
                $0.last = max($0.last, $1.last)
            }
        }
        // The bucket starts full and is still full at the first call; from then on demand never lets it rest (a
        // burst of 100 ms of tokens rides out a thread being descheduled).
        let expected = 5_000 + 50_000 * (results.last - results.first).secondsDouble
        print("[measure] one bucket at 50,000/s from 4 tasks: \(results.calls) calls in 0.5 s, admitted \(results.admitted), ideal \(expected)")
        // Offered well above the limit, and the count is the ideal within a token or two (the last calls of each
        // task see instants a hair apart).
        #expect(Double(results.calls) > 2 * expected)
        #expect(abs(Double(results.admitted) - expected) <= 3, "admitted \(results.admitted), ideal \(expected)")
    }

}
