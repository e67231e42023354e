import Testing

@testable import SluiceAuth

@Suite struct AuthCacheTests {
    @Test func keyIsTheSHA256OfTheSecret() {
        #expect(AuthCache<Int>.key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(AuthCache<String>.key("xabcx".dropFirst().dropLast()) == AuthCache<Int>.key("abc"))
        #expect(AuthCache<Int>.key("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    }

    @Test func expiredEntriesAreRemoved() {
        var cache = AuthCache<String>(capacity: 4)
        cache.insert("alice", for: "k", until: 100, now: 10)
        #expect(cache.value(for: "k", now: 99.5) == "alice")
        #expect(cache.count == 1)
        #expect(cache.value(for: "k", now: 100) == nil)
        #expect(cache.count == 0)
        #expect(cache.value(for: "missing", now: 0) == nil)
    }

    @Test func alreadyExpiredValuesAreNotKept() {
        var cache = AuthCache<Int>(capacity: 4)
        cache.insert(1, for: "k", until: 50, now: 10)
        cache.insert(2, for: "k", until: 10, now: 10)
        #expect(cache.count == 0)
        #expect(cache.value(for: "k", now: 10) == nil)
    }

    @Test func capacityBoundEvictsTheOldestInsert() {
        var cache = AuthCache<Int>(capacity: 2)
        cache.insert(1, for: "a", until: 1000, now: 0)
        cache.insert(2, for: "b", until: 1000, now: 0)
        cache.insert(3, for: "c", until: 1000, now: 0)
        #expect(cache.count == 2)
        #expect(cache.value(for: "a", now: 1) == nil)
        #expect(cache.value(for: "b", now: 1) == 2)
        #expect(cache.value(for: "c", now: 1) == 3)
    }

    @Test func reinsertingMakesAnEntryTheNewest() {
        var cache = AuthCache<Int>(capacity: 2)
        cache.insert(1, for: "a", until: 1000, now: 0)
        cache.insert(2, for: "b", until: 1000, now: 0)
        cache.insert(10, for: "a", until: 1000, now: 0)  // replaces, evicts nothing
        #expect(cache.count == 2)
        #expect(cache.value(for: "a", now: 1) == 10)
        cache.insert(3, for: "c", until: 1000, now: 0)  // b is now the oldest insert
        #expect(cache.value(for: "b", now: 1) == nil)
        #expect(cache.value(for: "a", now: 1) == 10)
        #expect(cache.value(for: "c", now: 1) == 3)
    }

    @Test func lookupsDoNotChangeEvictionOrder() {
        var cache = AuthCache<Int>(capacity: 2)
        cache.insert(1, for: "a", until: 1000, now: 0)
        cache.insert(2, for: "b", until: 1000, now: 0)
        _ = cache.value(for: "a", now: 1)
        cache.insert(3, for: "c", until: 1000, now: 0)
        #expect(cache.value(for: "a", now: 1) == nil)
        #expect(cache.value(for: "b", now: 1) == 2)
    }

    @Test func stayBoundedOverManyInsertsAndRemovals() {
        var cache = AuthCache<Int>(capacity: 8)
        for index in 0..<10_000 {
            // Keys repeat, some entries expire: stale slots pile up and must be compacted away.
            cache.insert(index, for: "k\(index % 13)", until: Double(index % 3 == 0 ? 1 : 1000), now: 0)
            _ = cache.value(for: "k\((index * 7) % 13)", now: 2)
            #expect(cache.count <= 8)
        }
        // The last eight inserts that are still valid are the ones held.
        var expected: [String: Int] = [:]
        var seen: [String] = []
        for index in (0..<10_000).reversed() where seen.count < 8 {
            let key = "k\(index % 13)"
            if seen.contains(key) { continue }
            seen.append(key)
            if index % 3 != 0 { expected[key] = index }
        }
        for (key, value) in expected { #expect(cache.value(for: key, now: 2) == value) }
    }

    @Test func zeroCapacityHoldsNothing() {
        var cache = AuthCache<Int>(capacity: 0)
        cache.insert(1, for: "a", until: 1000, now: 0)
        #expect(cache.count == 0)
        #expect(cache.value(for: "a", now: 1) == nil)
    }
}
