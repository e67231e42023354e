import Synchronization
import Testing
@testable import SluiceTraffic

private func makeLimiter(_ policy: AdaptiveConcurrencyPolicy) -> AdaptiveConcurrencyLimiter {
    var random = AdaptiveSimRandom(state: 42)
    return AdaptiveConcurrencyLimiter(policy: policy, now: .zero, random: &random)
}

/// Runs `count` requests one after another, each taking `rtt`, all ending at `now`.
private func runSequentially(_ limiter: AdaptiveConcurrencyLimiter, count: Int, rtt: Duration, now: Duration) {
    for _ in 0..<count {
        let permit = limiter.tryAcquire(now: now)
        #expect(permit != nil)
        if let permit { limiter.complete(permit, rtt: rtt, now: now) }
    }
}

/// One sample window: `peak` requests in flight at `start`, `count` of them (replaced while more are needed)
/// completing in `rtt`, at `start` except the last one, at `end`. Requests left over are dropped at `end`.
private func window(
    _ limiter: AdaptiveConcurrencyLimiter, peak: Int, count: Int, rtt: Duration, start: Duration, end: Duration
) {
    var held = (0..<peak).compactMap { _ in limiter.tryAcquire(now: start) }
    #expect(held.count == peak)
    for sample in 0..<count {
        let last = sample == count - 1
        limiter.complete(held.removeFirst(), rtt: rtt, now: last ? end : start)
        if !last && held.count < count - sample - 1, let permit = limiter.tryAcquire(now: start) { held.append(permit) }
    }
    for permit in held { limiter.drop(permit, now: end) }
}

/// Five pinned requests of 10 ms finish the start-up measurement at 0: minRTT 10 ms, limit 20.
private let quick = AdaptiveConcurrencyPolicy(minRTTSamples: 5)

private func measured(_ policy: AdaptiveConcurrencyPolicy = quick) -> AdaptiveConcurrencyLimiter {
    let limiter = makeLimiter(policy)
    runSequentially(limiter, count: policy.minRTTSamples, rtt: .milliseconds(10), now: .zero)
    return limiter
}

@Suite struct AdaptiveConcurrencyLimiterTests {
    @Test func startsPinnedToTheMinimumToMeasureTheMinRTT() {
        let limiter = makeLimiter(.init())
        #expect(
            limiter.snapshot
                == .init(limit: 3, inflight: 0, minRTT: nil, sampleRTT: nil, measuringMinRTT: true)
        )
        let permits = (0..<3).compactMap { _ in limiter.tryAcquire(now: .zero) }
        #expect(permits.count == 3)
        #expect(limiter.tryAcquire(now: .zero) == nil)
        #expect(limiter.inflight == 3)
        limiter.drop(permits[0], now: .zero)
        #expect(limiter.tryAcquire(now: .zero) != nil)
    }

    @Test func minRTTIsThePercentileOfThePinnedSamples() {
        let limiter = makeLimiter(.init(minRTTSamples: 10))
        for milliseconds in 1...10 {
            let permit = limiter.tryAcquire(now: .zero)!
            limiter.complete(permit, rtt: .milliseconds(milliseconds), now: .zero)
        }
        // Nearest rank: the ⌈0.9 × 10⌉ = 9th smallest.
        #expect(
            limiter.snapshot
                == .init(limit: 20, inflight: 0, minRTT: .milliseconds(9), sampleRTT: nil, measuringMinRTT: false)
        )
    }

    @Test func requestsAdmittedBeforeAMeasurementAreNotMinRTTSamples() {
        let limiter = measured(.init(minRTTInterval: .seconds(10), minRTTJitter: 0, minRTTSamples: 5))
        let old = (0..<10).compactMap { _ in limiter.tryAcquire(now: .seconds(1)) }
        #expect(old.count == 10)
        // Due at 10 s: the measurement starts, and with 10 in flight nothing more is admitted.
        #expect(limiter.tryAcquire(now: .milliseconds(9_999)) != nil)
        #expect(limiter.tryAcquire(now: .seconds(10)) == nil)
        #expect(limiter.snapshot.measuringMinRTT)
        #expect(limiter.limit == 3)
        for permit in old { limiter.complete(permit, rtt: .milliseconds(50), now: .seconds(10)) }
        #expect(limiter.snapshot.minRTT == .milliseconds(10))
        #expect(limiter.snapshot.measuringMinRTT)
        // One request admitted at 9.999 s is still in flight: two at a time fit under the pin of 3.
        runSequentially(limiter, count: 5, rtt: .milliseconds(20), now: .seconds(10))
        #expect(limiter.snapshot.minRTT == .milliseconds(20))
        #expect(limiter.snapshot.measuringMinRTT == false)
        #expect(limiter.limit == 20)
    }

    @Test func slowerSamplesLowerTheLimitByTheGradient() {
        let limiter = measured()
        window(limiter, peak: 20, count: 10, rtt: .milliseconds(20), start: .zero, end: .milliseconds(100))
        // gradient 1.25 × 10 ÷ 20 = 0.625: 20 × 0.625 = 12.5, plus √12.5 ≈ 3.54 → 16.04.
        #expect(
            limiter.snapshot
                == .init(limit: 16, inflight: 0, minRTT: .milliseconds(10), sampleRTT: .milliseconds(20),
                         measuringMinRTT: false)
        )
    }

    @Test func samplesAtTheMinRTTRaiseTheLimitWhenItIsUsed() {
        let limiter = measured()
        window(limiter, peak: 20, count: 10, rtt: .milliseconds(10), start: .zero, end: .milliseconds(100))
        #expect(limiter.limit == 30)  // 20 × 1.25 + √25
    }

    @Test func aWindowThatUsedLessThanHalfTheLimitDoesNotRaiseIt() {
        let idle = measured()
        window(idle, peak: 9, count: 10, rtt: .milliseconds(10), start: .zero, end: .milliseconds(100))
        #expect(idle.limit == 20)
        let busy = measured()
        window(busy, peak: 10, count: 10, rtt: .milliseconds(10), start: .zero, end: .milliseconds(100))
        #expect(busy.limit == 30)
        // Lowering is still allowed.
        window(idle, peak: 9, count: 10, rtt: .milliseconds(20), start: .milliseconds(100), end: .milliseconds(200))
        #expect(idle.limit == 16)
    }

    @Test func theGradientIsClampedBetweenHalfAndDouble() {
        let slow = measured()
        window(slow, peak: 20, count: 10, rtt: .milliseconds(100), start: .zero, end: .milliseconds(100))
        #expect(slow.limit == 13)  // 20 × 0.5 + √10
        let fast = measured()
        window(fast, peak: 20, count: 10, rtt: .milliseconds(1), start: .zero, end: .milliseconds(100))
        #expect(fast.limit == 46)  // 20 × 2 + √40
    }

    @Test func theLimitStaysWithinItsBoundsAndSmoothingSlowsItsMoves() {
        let capped = measured(.init(maxLimit: 25, minRTTSamples: 5))
        window(capped, peak: 20, count: 10, rtt: .milliseconds(10), start: .zero, end: .milliseconds(100))
        #expect(capped.limit == 25)
        let smoothed = measured(.init(smoothing: 0.5, minRTTSamples: 5))
        window(smoothed, peak: 20, count: 10, rtt: .milliseconds(10), start: .zero, end: .milliseconds(100))
        #expect(smoothed.limit == 25)  // halfway from 20 to 30
    }

    @Test func aWindowClosesOnlyAfterTheIntervalWithEnoughSamples() {
        let limiter = measured()
        window(limiter, peak: 20, count: 10, rtt: .milliseconds(20), start: .zero, end: .milliseconds(99))
        #expect(limiter.limit == 20)
        #expect(limiter.snapshot.sampleRTT == nil)
        // The 11th sample, at 100 ms, closes it.
        window(limiter, peak: 1, count: 1, rtt: .milliseconds(20), start: .milliseconds(100), end: .milliseconds(100))
        #expect(limiter.limit == 16)
        // Nine samples are not enough, however long the window.
        window(limiter, peak: 9, count: 9, rtt: .milliseconds(20), start: .milliseconds(150), end: .seconds(5))
        #expect(limiter.limit == 16)
        window(limiter, peak: 1, count: 1, rtt: .milliseconds(20), start: .seconds(5), end: .seconds(5))
        #expect(limiter.limit == 13)  // 16.04 × 0.625 + √10.02
    }

    @Test func overloadDropsBackOffOncePerIntervalAndBlockGrowth() {
        let limiter = measured()
        let permits = (0..<5).compactMap { _ in limiter.tryAcquire(now: .zero) }
        limiter.drop(permits[0], now: .milliseconds(10))
        #expect(limiter.limit == 20)  // a cancellation is no signal
        limiter.drop(permits[1], overloaded: true, now: .milliseconds(10))
        #expect(limiter.limit == 18)
        limiter.drop(permits[2], overloaded: true, now: .milliseconds(109))
        #expect(limiter.limit == 18)
        limiter.drop(permits[3], overloaded: true, now: .milliseconds(110))
        #expect(limiter.limit == 16)  // 16.2
        limiter.drop(permits[4], now: .milliseconds(110))
        #expect(limiter.inflight == 0)
        // The window that saw the drops may not raise the limit, even with samples at the minRTT.
        window(limiter, peak: 16, count: 10, rtt: .milliseconds(10), start: .milliseconds(110), end: .milliseconds(110))
        #expect(limiter.limit == 16)
        #expect(limiter.snapshot.sampleRTT == .milliseconds(10))
        window(limiter, peak: 16, count: 10, rtt: .milliseconds(10), start: .milliseconds(120), end: .milliseconds(210))
        #expect(limiter.limit == 24)  // 16.2 × 1.25 + √20.25 = 24.75
    }

    @Test func theMinRTTIsMeasuredAgainPeriodicallyWithJitter() throws {
        let limiter = measured(.init(minRTTInterval: .seconds(10), minRTTJitter: 0.15, minRTTSamples: 5))
        var start: Duration?
        var now = Duration.milliseconds(9_990)
        while start == nil && now <= .milliseconds(11_510) {
            if let permit = limiter.tryAcquire(now: now) { limiter.drop(permit, now: now) }
            if limiter.snapshot.measuringMinRTT { start = now }
            now += .milliseconds(10)
        }
        let measurementStart = try #require(start)
        #expect(measurementStart >= .seconds(10) && measurementStart <= .milliseconds(11_500))
        runSequentially(limiter, count: 5, rtt: .milliseconds(12), now: measurementStart)
        #expect(limiter.snapshot.minRTT == .milliseconds(12))
        #expect(limiter.limit == 20)
    }

    @Test func aCollapsedLimitTriggersANewMeasurement() {
        let limiter = measured()
        // 40 ms samples: the gradient is clamped to 0.5 at every window.
        let expected = [13, 9, 6, 5, 4]
        for (index, limit) in expected.enumerated() {
            let start = Duration.milliseconds(100 * index)
            window(limiter, peak: 3, count: 10, rtt: .milliseconds(40), start: start, end: start + .milliseconds(100))
            #expect(limiter.limit == limit)
            #expect(!limiter.snapshot.measuringMinRTT)
        }
        // The fifth window in a row at or below half the peak of 20 (9.1, 6.7, 5.2, 4.2, 3.6).
        window(limiter, peak: 3, count: 10, rtt: .milliseconds(40), start: .milliseconds(500), end: .milliseconds(600))
        #expect(limiter.snapshot.measuringMinRTT)
        runSequentially(limiter, count: 5, rtt: .milliseconds(40), now: .milliseconds(600))
        #expect(limiter.snapshot.minRTT == .milliseconds(40))
        #expect(limiter.limit == 3)  // restored; it grows again from the new minRTT
    }

    @Test func aLimitStuckAtTheMinimumTriggersANewMeasurement() {
        let limiter = measured(.init(initialLimit: 4, minRTTSamples: 5))
        for index in 0..<4 {
            let start = Duration.milliseconds(100 * index)
            window(limiter, peak: 3, count: 10, rtt: .milliseconds(40), start: start, end: start + .milliseconds(100))
            #expect(limiter.limit == 3)
            #expect(!limiter.snapshot.measuringMinRTT)
        }
        window(limiter, peak: 3, count: 10, rtt: .milliseconds(40), start: .milliseconds(400), end: .milliseconds(500))
        #expect(limiter.snapshot.measuringMinRTT)
    }

    @Test func concurrentCallersNeverExceedTheLimit() async {
        final class Tally: Sendable {
            let holding = Atomic<Int>(0)
            let most = Atomic<Int>(0)
            let admitted = Atomic<Int>(0)
        }
        let limiter = makeLimiter(.init())  // pinned to 3 while measuring
        let tally = Tally()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<4 {
                group.addTask {
                    for _ in 0..<2_000 {
                        guard let permit = limiter.tryAcquire(now: .zero) else { continue }
                        let holding = tally.holding.add(1, ordering: .relaxed).newValue
                        tally.most.max(holding, ordering: .relaxed)
                        tally.admitted.add(1, ordering: .relaxed)
                        tally.holding.subtract(1, ordering: .relaxed)
                        limiter.drop(permit, now: .zero)
                    }
                }
            }
        }
        #expect(tally.most.load(ordering: .relaxed) <= 3)
        #expect(tally.admitted.load(ordering: .relaxed) >= 1)
        #expect(limiter.inflight == 0)
    }

    @Test func percentileIsTheNearestRank() {
        #expect(AdaptiveConcurrencyLimiter.percentile(0.5, of: [5, 1, 3]) == 3)
        #expect(AdaptiveConcurrencyLimiter.percentile(1, of: [5, 1, 3]) == 5)
        #expect(AdaptiveConcurrencyLimiter.percentile(0.01, of: [5, 1, 3]) == 1)
        #expect(AdaptiveConcurrencyLimiter.percentile(0.9, of: Array(1...100)) == 90)
    }
}

@Suite struct LoadLatencyModelTests {
    @Test func latencyClimbsInProportionPastTheCapacity() {
        let model = LoadLatencyModel(base: .milliseconds(10), capacity: 20)
        #expect(model.latency(inflight: 0) == .milliseconds(10))
        #expect(model.latency(inflight: 20) == .milliseconds(10))
        #expect(model.latency(inflight: 21) == .microseconds(10_500))
        #expect(model.latency(inflight: 30) == .milliseconds(15))
        #expect(model.latency(inflight: 80) == .milliseconds(40))
        #expect(model.maxThroughput == 2000)
        #expect(LoadLatencyModel(base: .milliseconds(3), capacity: 1).latency(inflight: 3) == .milliseconds(9))
    }
}
