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
}
