import Synchronization
import Testing
@testable import SluiceTraffic

/// Buckets are 100 ms (1 s in 10); bucket `n` spans `n × 100 ms ..< (n + 1) × 100 ms`.
private func instant(bucket: Int, plus offset: Duration = .milliseconds(1)) -> Duration {
    .milliseconds(100 * bucket) + offset
}

/// `count` requests, admitted as core and completed in `rtt`, all within `bucket`.
private func feed(_ protection: SystemProtection, bucket: Int, count: Int, rtt: Duration) {
    let now = instant(bucket: bucket)
    for _ in 0..<count {
        #expect(protection.admit(priority: .core, now: now))
        protection.complete(rtt: rtt, now: now)
    }
}

/// Core requests until `inflight` are in flight (core is never shed by the adaptive check).
private func fill(_ protection: SystemProtection, to inflight: Int, now: Duration) {
    while protection.snapshot(now: now).inflight < inflight {
        #expect(protection.admit(priority: .core, now: now))
    }
}

/// Estimated capacity 10 (bucket 1: 100 completions of 10 ms, so 1000/s × 10 ms) and the latency inflated in bucket
/// 2 (100 completions of 20 ms): from bucket 3 on, shedding starts at 8 in flight.
private func overloaded() -> SystemProtection {
    let protection = SystemProtection(policy: .init())
    feed(protection, bucket: 1, count: 100, rtt: .milliseconds(10))
    feed(protection, bucket: 2, count: 100, rtt: .milliseconds(20))
    return protection
}

@Suite struct SystemProtectionTests {
    @Test func coldStartAdmitsEverything() {
        let protection = SystemProtection(policy: .init())
        for _ in 0..<500 { #expect(protection.admit(priority: .optional, now: .zero)) }
        #expect(
            protection.snapshot(now: .zero)
                == .init(inflight: 500, maxQPS: nil, minRT: nil, estimatedCapacity: nil, latencyInflated: false,
                         sheddingUntil: nil, shed: [])
        )
    }

    @Test func theEstimateFollowsTheMeasuredStatistics() {
        let protection = SystemProtection(policy: .init())
        feed(protection, bucket: 1, count: 50, rtt: .milliseconds(10))
        feed(protection, bucket: 2, count: 30, rtt: .milliseconds(20))
        // The bucket in progress does not count.
        #expect(protection.snapshot(now: instant(bucket: 2)).estimatedCapacity == 5)
        var snapshot = protection.snapshot(now: instant(bucket: 3))
        #expect(snapshot.maxQPS == 500)
        #expect(snapshot.minRT == .milliseconds(10))
        #expect(snapshot.estimatedCapacity == 5)  // 500/s × 10 ms
        #expect(snapshot.latencyInflated)  // 20 ms ≥ 1.5 × 10 ms

        feed(protection, bucket: 3, count: 100, rtt: .milliseconds(10))
        snapshot = protection.snapshot(now: instant(bucket: 4))
        #expect(snapshot.estimatedCapacity == 10)
        #expect(!snapshot.latencyInflated)

        // The throughput looks back one window (buckets 3...12 at bucket 13), the minimum RT ten.
        #expect(protection.snapshot(now: instant(bucket: 13)).maxQPS == 1000)
        snapshot = protection.snapshot(now: instant(bucket: 14))
        #expect(snapshot.maxQPS == nil)
        #expect(snapshot.estimatedCapacity == nil)
        #expect(snapshot.minRT == .milliseconds(10))
        feed(protection, bucket: 20, count: 40, rtt: .milliseconds(30))
        #expect(protection.snapshot(now: instant(bucket: 21)).estimatedCapacity == 4)  // 400/s × 10 ms
        feed(protection, bucket: 104, count: 40, rtt: .milliseconds(30))
        snapshot = protection.snapshot(now: instant(bucket: 105))
        #expect(snapshot.minRT == .milliseconds(30))
        #expect(snapshot.estimatedCapacity == 12)

        // Buckets under `minBucketSamples` (20) count for the throughput, not for the latency.
        feed(protection, bucket: 105, count: 19, rtt: .milliseconds(5))
        snapshot = protection.snapshot(now: instant(bucket: 106))
        #expect(snapshot.minRT == .milliseconds(30))
        #expect(snapshot.maxQPS == 400)
    }

    @Test func theMinimumRTIsFloored() {
        let protection = SystemProtection(policy: .init())
        feed(protection, bucket: 1, count: 20, rtt: .microseconds(100))
        let snapshot = protection.snapshot(now: instant(bucket: 2))
        #expect(snapshot.minRT == .microseconds(100))
        #expect(snapshot.estimatedCapacity == 0.2)  // 200/s × 1 ms, not × 0.1 ms
    }

    @Test func shedsOptionalThenNormalButNeverCore() {
        let protection = overloaded()
        let now = instant(bucket: 3)
        fill(protection, to: 7, now: now)
        #expect(protection.snapshot(now: now).shed == [])
        #expect(protection.admit(priority: .optional, now: now))  // 7 < 8
        #expect(protection.snapshot(now: now).shed == [.optional])
        #expect(!protection.admit(priority: .optional, now: now))  // 8 ≥ 0.8 × 10: shedding starts
        #expect(protection.snapshot(now: now).sheddingUntil == now + .seconds(1))
        #expect(protection.admit(priority: .normal, now: now))
        #expect(protection.admit(priority: .normal, now: now))
        #expect(protection.snapshot(now: now).shed == [.optional, .normal])
        #expect(!protection.admit(priority: .normal, now: now))  // 10 ≥ 1 × 10
        for _ in 0..<100 { #expect(protection.admit(priority: .core, now: now)) }
        #expect(protection.snapshot(now: now).inflight == 110)
        #expect(protection.snapshot(now: now).shed == [.optional, .normal])
    }

    @Test func withoutInflatedLatencyNothingIsShed() {
        let protection = SystemProtection(policy: .init())
        feed(protection, bucket: 1, count: 100, rtt: .milliseconds(10))
        feed(protection, bucket: 2, count: 100, rtt: .milliseconds(14))  // below 1.5 × 10 ms
        let now = instant(bucket: 3)
        fill(protection, to: 50, now: now)
        #expect(protection.admit(priority: .optional, now: now))
        #expect(protection.snapshot(now: now).shed == [])
    }

    @Test func sheddingLastsTheRecoveryTimeOnceStarted() {
        let protection = overloaded()
        let start = instant(bucket: 3)
        fill(protection, to: 8, now: start)
        #expect(!protection.admit(priority: .optional, now: start))
        // Below the thresholds requests pass, shedding or not.
        for _ in 0..<3 { protection.abandon(now: start) }
        #expect(protection.admit(priority: .optional, now: start))
        // Healthy buckets from 4 on (60 completions of 10 ms: not inflated, and no excess demand). The capacity in
        // force stays at 10 while shedding, though the estimate is now 6.
        for bucket in 4...13 { feed(protection, bucket: bucket, count: 60, rtt: .milliseconds(10)) }
        let late = start + .milliseconds(999)
        fill(protection, to: 8, now: late)
        var snapshot = protection.snapshot(now: late)
        #expect(!snapshot.latencyInflated)
        #expect(snapshot.estimatedCapacity == 10)
        #expect(snapshot.shed == [.optional])
        #expect(!protection.admit(priority: .optional, now: late))
        // A refusal does not extend it: it ends one second after it started.
        let end = start + .seconds(1)
        snapshot = protection.snapshot(now: end)
        #expect(snapshot.sheddingUntil == nil)
        #expect(snapshot.estimatedCapacity == 6)
        #expect(snapshot.shed == [])
        #expect(protection.admit(priority: .optional, now: end))
    }

    @Test func inflatedLatencyOrExcessDemandKeepsSheddingOn() {
        let protection = overloaded()
        let start = instant(bucket: 3)
        fill(protection, to: 8, now: start)
        #expect(!protection.admit(priority: .optional, now: start))
        #expect(protection.snapshot(now: start).sheddingUntil == start + .seconds(1))

        // Bucket 5 is slow again: the first decision in bucket 6 extends shedding by a second from then.
        feed(protection, bucket: 5, count: 100, rtt: .milliseconds(20))
        let later = instant(bucket: 6)
        #expect(protection.admit(priority: .core, now: later))
        #expect(protection.snapshot(now: later).sheddingUntil == later + .seconds(1))

        // 1000 optional requests offered (and refused) in bucket 7: with the 300 completions before, the window
        // holds more offers than 10 buckets at the best throughput (100 per bucket).
        let burst = instant(bucket: 7)
        for _ in 0..<1000 { #expect(!protection.admit(priority: .optional, now: burst)) }
        let next = instant(bucket: 8)
        #expect(protection.admit(priority: .core, now: next))
        #expect(protection.snapshot(now: next).sheddingUntil == next + .seconds(1))
    }

    @Test func theFirstBucketOfEachWindowProbesAboveTheCapacity() {
        let protection = SystemProtection(policy: .init())
        feed(protection, bucket: 8, count: 100, rtt: .milliseconds(10))
        feed(protection, bucket: 9, count: 100, rtt: .milliseconds(20))
        let now = instant(bucket: 10)  // thresholds × 1.25: optional at 10, normal at 12.5
        fill(protection, to: 9, now: now)
        #expect(protection.admit(priority: .optional, now: now))
        #expect(!protection.admit(priority: .optional, now: now))
        fill(protection, to: 12, now: now)
        #expect(protection.admit(priority: .normal, now: now))
        #expect(!protection.admit(priority: .normal, now: now))
    }

    @Test func nothingIsShedWithAtMostOneRequestInFlight() {
        let protection = SystemProtection(policy: .init())
        feed(protection, bucket: 1, count: 20, rtt: .milliseconds(1))
        feed(protection, bucket: 2, count: 20, rtt: .milliseconds(2))  // capacity 0.2, latency inflated
        let now = instant(bucket: 3)
        #expect(protection.admit(priority: .optional, now: now))
        #expect(protection.admit(priority: .optional, now: now))
        #expect(!protection.admit(priority: .optional, now: now))
    }

    @Test func theHardCapShedsEveryPriority() {
        let protection = SystemProtection(policy: .init(maxInflight: 3, adaptive: false))
        for _ in 0..<3 { #expect(protection.admit(priority: .core, now: .zero)) }
        #expect(!protection.admit(priority: .core, now: .zero))
        #expect(!protection.admit(priority: .optional, now: .zero))
        #expect(protection.snapshot(now: .zero).shed == [.optional, .normal, .core])
        protection.complete(rtt: .milliseconds(5), now: .zero)
        #expect(protection.admit(priority: .optional, now: .zero))
    }

    @Test func theHardCapAppliesOnTopOfTheAdaptiveCheck() {
        let protection = SystemProtection(policy: .init(maxInflight: 210))
        feed(protection, bucket: 1, count: 100, rtt: .milliseconds(10))
        feed(protection, bucket: 2, count: 100, rtt: .milliseconds(20))
        let now = instant(bucket: 3)
        fill(protection, to: 209, now: now)
        #expect(protection.admit(priority: .core, now: now))
        #expect(!protection.admit(priority: .core, now: now))
    }

    @Test func withoutTheAdaptiveCheckOnlyTheCapApplies() {
        let protection = SystemProtection(policy: .init(adaptive: false))
        feed(protection, bucket: 1, count: 100, rtt: .milliseconds(10))
        feed(protection, bucket: 2, count: 100, rtt: .milliseconds(20))
        let now = instant(bucket: 3)
        fill(protection, to: 100, now: now)
        #expect(protection.admit(priority: .optional, now: now))
        #expect(protection.snapshot(now: now).shed == [])
    }

    @Test func concurrentCallersNeverExceedTheHardCap() async {
        final class Tally: Sendable {
            let holding = Atomic<Int>(0)
            let most = Atomic<Int>(0)
        }
        let protection = SystemProtection(policy: .init(maxInflight: 5))
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for task in 0..<4 {
                group.addTask {
                    for step in 0..<2_000 {
                        let now = Duration.microseconds(step)
                        guard protection.admit(priority: .core, now: now) else { continue }
                        let holding = tally.holding.add(1, ordering: .relaxed).newValue
                        tally.most.max(holding, ordering: .relaxed)
                        tally.holding.subtract(1, ordering: .relaxed)
                        if task.isMultiple(of: 2) {
                            protection.complete(rtt: .microseconds(1), now: now)
                        } else {
                            protection.abandon(now: now)
                        }
                    }
                }
            }
        }
        #expect(tally.most.load(ordering: .relaxed) <= 5)
        #expect(protection.snapshot(now: .milliseconds(2)).inflight == 0)
    }
}
