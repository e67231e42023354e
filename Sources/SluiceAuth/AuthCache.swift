/// A bounded cache of authentication verdicts (a verified token's identity, a checked password), each valid until a
/// time given when it is inserted, so that a bcrypt check or a JWT signature is not redone on every request.
///
/// Keys are the SHA-256 of the secret (``key(_:)``), never the secret itself. When full, an insert evicts the entry
/// inserted longest ago. Every operation is amortised O(1): a dictionary holds the entries and an array the keys in
/// insertion order; entries removed or re-inserted leave stale slots in that array, skipped at eviction and dropped
/// when it grows past twice the capacity. The clock is passed in (`now`, in seconds): nothing here reads it.
public struct AuthCache<Value: Sendable>: Sendable {
    private struct Entry: Sendable {
        var value: Value
        var until: Double
        var serial: UInt64
    }

    private struct Slot: Sendable {
        var key: String
        var serial: UInt64
    }

    /// The most entries held at once.
    public let capacity: Int
    private var entries: [String: Entry] = [:]
    /// Keys in insertion order from `head` on; a slot whose serial is not its entry's is stale.
    private var order: [Slot] = []
    private var head = 0
    private var nextSerial: UInt64 = 0

    /// A cache of at most `capacity` entries (0: a cache that holds nothing).
    public init(capacity: Int) {
        precondition(capacity >= 0, "AuthCache capacity must not be negative")
        self.capacity = capacity
    }

    /// How many entries the cache holds (expired ones included until they are looked up or evicted).
    public var count: Int { entries.count }

    /// The value cached for `key`, or nil when there is none or it expired (then it is removed).
    public mutating func value(for key: String, now: Double) -> Value? {
        guard let entry = entries[key] else { return nil }
        guard now < entry.until else {
            entries.removeValue(forKey: key)
            return nil
        }
        return entry.value
    }

    /// Caches `value` for `key` until `until` (exclusive), replacing what `key` held; evicts the entry inserted
    /// longest ago when the cache is full. A value already expired at `now` is not kept.
    public mutating func insert(_ value: Value, for key: String, until: Double, now: Double) {
        guard capacity > 0, until > now else {
            entries.removeValue(forKey: key)
            return
        }
        if entries[key] == nil {
            while entries.count >= capacity { evictOldest() }
        }
        nextSerial += 1
        entries[key] = Entry(value: value, until: until, serial: nextSerial)
        order.append(Slot(key: key, serial: nextSerial))
        if order.count > 2 * capacity + 16 { compact() }
    }

    /// The cache key for a secret (a bearer token, an API key, `user:password`): the lowercase hexadecimal SHA-256 of
    /// its UTF-8 bytes, so that a cache never holds a secret in clear.
    public static func key(_ secret: some StringProtocol) -> String {
        Hex.sha256(secret)
    }

    private mutating func evictOldest() {
        while head < order.count {
            let slot = order[head]
            head += 1
            if entries[slot.key]?.serial == slot.serial {
                entries.removeValue(forKey: slot.key)
                return
            }
        }
    }

    /// Drops the stale slots and those before `head`: after it `order` holds exactly one slot per entry.
    private mutating func compact() {
        order = order[head...].filter { entries[$0.key]?.serial == $0.serial }
        head = 0
    }
}
