import Testing

@testable import SluiceTraffic

/// Envoy-style hard thresholds: an exact, lock-free cap.
@Suite struct ConcurrencyCapTests {
    @Test func capsAndReleases() {
        let cap = ConcurrencyCap(limit: 2)
        #expect(cap.tryAcquire())
        #expect(cap.tryAcquire())
        #expect(!cap.tryAcquire())
        #expect(cap.current == 2)
        cap.release()
        #expect(cap.current == 1)
        #expect(cap.tryAcquire())
        #expect(!cap.tryAcquire())
        cap.release()
        cap.release()
        // An unbalanced release never takes the count below zero.
        cap.release()
        #expect(cap.current == 0)
        #expect(cap.tryAcquire())
        #expect(cap.tryAcquire())
        #expect(!cap.tryAcquire())
    }

    @Test func zeroRefusesEverything() {
        let cap = ConcurrencyCap(limit: 0)
        #expect(!cap.tryAcquire())
        #expect(cap.current == 0)
    }

    @Test func concurrentAcquiresNeverExceedTheLimit() async {
        // Without releases: exactly `limit` of the 8 × 100 attempts succeed.
        let cap = ConcurrencyCap(limit: 50)
        let admitted = await withTaskGroup(of: Int.self) { group in
            for _ in 0..<8 {
                group.addTask { (0..<100).count { _ in cap.tryAcquire() } }
            }
            return await group.reduce(0, +)
        }
        #expect(admitted == 50)
        #expect(cap.current == 50)
    }

    @Test func concurrentAcquireReleaseStaysWithinTheLimit() async {
        let cap = ConcurrencyCap(limit: 3)
        // Each task reports how many it got and the highest count it saw while holding one.
        let results = await withTaskGroup(of: (admitted: Int, highest: Int).self) { group in
            for _ in 0..<6 {
                group.addTask {
                    var admitted = 0
                    var highest = 0
                    for _ in 0..<2_000 where cap.tryAcquire() {
                        admitted += 1
                        highest = max(highest, cap.current)
                        cap.release()
                    }
                    return (admitted, highest)
                }
            }
            return await group.reduce(into: [(admitted: Int, highest: Int)]()) { $0.append($1) }
        }
        #expect(results.count == 6)
        #expect(results.allSatisfy { $0.highest <= 3 && ($0.admitted > 0) == ($0.highest > 0) })
        #expect(results.reduce(0) { $0 + $1.admitted } >= 1)
        #expect(cap.current == 0)
    }
}
