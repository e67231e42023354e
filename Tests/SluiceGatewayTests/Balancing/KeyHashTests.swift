import Testing

@testable import SluiceGateway

/// The consistent-hashing key hash must never change: keys would move between backends across versions.
@Suite struct BalancingKeyHashTests {
    @Test func fnvCoreMatchesReferenceVectors() {
        // FNV-1a 64 reference values (before the finalizer), from the FNV test suite.
        #expect(KeyHash.fnvOffsetBasis == 0xCBF2_9CE4_8422_2325)
        func fnv(_ s: String) -> UInt64 {
            var state = KeyHash.fnvOffsetBasis
            for byte in s.utf8 {
                state ^= UInt64(byte)
                state &*= KeyHash.fnvPrime
            }
            return state
        }
        #expect(fnv("a") == 0xAF63_DC4C_8601_EC8C)
        #expect(fnv("foobar") == 0x8594_4171_F739_67E8)
    }

    @Test func pinnedValues() {
        let inputs = ["", "a", "foobar", "10.0.0.1:8080", "user-42"]
        let values = inputs.map { KeyHash.hash($0) }
        print("KeyHash pinned: \(values.map { "0x" + String($0, radix: 16) })")
        #expect(values == Self.pinned)
        #expect(KeyHash.hash("a", seed: MaglevTable.skipSeed) != KeyHash.hash("a"))
    }

    /// Computed once (and cross-checked with an independent Python FNV-1a + fmix64); never change them.
    static let pinned: [UInt64] = [
        0xEFD0_1F60_BA99_2926,  // ""
        0x82A2_A958_A9BE_CE5B,  // "a"
        0x2C22_1949_22D1_672B,  // "foobar"
        0xE8C7_2115_6ED5_2B14,  // "10.0.0.1:8080"
        0xA395_32C7_AB05_1E8D,  // "user-42"
    ]

    @Test func substringsHashLikeStrings() {
        let text = "xx10.0.0.1:8080yy"
        let inner = text.dropFirst(2).dropLast(2)
        #expect(KeyHash.hash(inner) == KeyHash.hash("10.0.0.1:8080"))
    }

    @Test func finalizerIsFmix64() {
        #expect(KeyHash.finalize(0) == 0)
        // Neighbouring inputs differ in about half their output bits.
        let flipped = (KeyHash.hash("key-1") ^ KeyHash.hash("key-2")).nonzeroBitCount
        #expect(flipped > 16 && flipped < 48)
    }
}
