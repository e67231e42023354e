import Testing

@testable import SluiceTraffic

/// The shared time-bucket window and count ring.
@Suite struct OutcomeBucketsTests {
    @Test func bucketsSlideOnAlignedBoundaries() {
        var buckets = OutcomeBuckets(window: .seconds(10), buckets: 10)
        #expect(buckets.bucketWidth == 1_000_000_000)
        #expect(buckets.span == .seconds(10))
        buckets.record(failed: true, slow: false, now: .milliseconds(100_999))
        buckets.record(failed: false, slow: true, now: .milliseconds(101_000))
        #expect(buckets.totals(now: .seconds(101)) == OutcomeCounts(calls: 2, failures: 1, slow: 1))
        // Bucket 100 is in the window up to 109.999s, bucket 101 up to 110.999s.
        #expect(buckets.totals(now: .milliseconds(109_999)).calls == 2)
        #expect(buckets.totals(now: .seconds(110)) == OutcomeCounts(calls: 1, failures: 0, slow: 1))
        #expect(buckets.totals(now: .seconds(111)).calls == 0)
        // A slot reused after a full turn starts from zero.
        buckets.record(failed: false, slow: false, now: .milliseconds(110_500))
        #expect(buckets.totals(now: .seconds(110)) == OutcomeCounts(calls: 2, failures: 0, slow: 1))
        // An instant older than the newest bucket in its slot is dropped.
        buckets.record(failed: true, slow: false, now: .milliseconds(100_500))
        #expect(buckets.totals(now: .seconds(110)).failures == 0)
        buckets.reset()
        #expect(buckets.totals(now: .seconds(110)).calls == 0)
    }

    @Test func ringKeepsTheLastCalls() {
        var ring = OutcomeRing(capacity: 3)
        ring.record(failed: true, slow: true)
        ring.record(failed: false, slow: false)
        ring.record(failed: true, slow: false)
        #expect(ring.counts == OutcomeCounts(calls: 3, failures: 2, slow: 1))
        ring.record(failed: false, slow: false)
        #expect(ring.counts == OutcomeCounts(calls: 3, failures: 1, slow: 0))
        ring.reset()
        #expect(ring.counts == OutcomeCounts())
        for _ in 0..<4 { ring.record(failed: false, slow: true) }
        #expect(ring.counts == OutcomeCounts(calls: 3, failures: 0, slow: 3))
    }

    @Test func reasonText() {
        #expect(ResilienceText.percent(62) == "62.0")
        #expect(ResilienceText.percent(200.0 / 3) == "66.7")
        #expect(ResilienceText.threshold(50) == "50")
        #expect(ResilienceText.threshold(33.3) == "33.3")
        #expect(ResilienceText.duration(.seconds(30)) == "30s")
        #expect(ResilienceText.duration(.milliseconds(1_500)) == "1.5s")
        #expect(ResilienceText.duration(.milliseconds(1_050)) == "1.05s")
        #expect(ResilienceText.duration(.milliseconds(500)) == "500ms")
        #expect(ResilienceText.duration(.microseconds(250)) == "250us")
        #expect(ResilienceText.duration(.nanoseconds(7)) == "7ns")
    }
}
