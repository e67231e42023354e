/// A stable 64-bit hash for consistent hashing: FNV-1a 64 over the UTF-8 bytes, then MurmurHash3's `fmix64`.
///
/// Not Swift's `Hasher`, which is seeded randomly per process: a key must land on the same backend after a restart
/// and on every gateway instance. FNV-1a alone mixes its last bytes poorly (keys that differ only at the end differ
/// only in the low bits); the finalizer spreads every input bit over the whole word.
enum KeyHash {
    static let fnvOffsetBasis: UInt64 = 0xCBF2_9CE4_8422_2325
    static let fnvPrime: UInt64 = 0x0000_0100_0000_01B3

    /// The hash of `key`'s UTF-8 bytes. A non-zero `seed` gives an independent hash function (Maglev needs two).
    static func hash(_ key: some StringProtocol, seed: UInt64 = 0) -> UInt64 {
        var state = fnvOffsetBasis ^ seed
        for byte in key.utf8 {
            state ^= UInt64(byte)
            state &*= fnvPrime
        }
        return finalize(state)
    }

    /// MurmurHash3's 64-bit finalizer (`fmix64`): a bijection with full avalanche.
    static func finalize(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= 0xFF51_AFD7_ED55_8CCD
        h ^= h >> 33
        h &*= 0xC4CE_B9FE_1A85_EC53
        h ^= h >> 33
        return h
    }
}
