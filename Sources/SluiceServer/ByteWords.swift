/// Byte tests for the request path. Scans bytes eight at a time for any that a test picks out: `mayHave` looks at a whole word and may say yes
/// wrongly but never no wrongly; `picks` then decides byte by byte, for a word it flagged and for the last few
/// bytes. Header values and JSON strings pass every answer's path, and most words need no look at their bytes.
/// Single bytes are tested against sets kept as bits (tokens, host names).
package enum ByteWords {
    /// `0x01` in every byte of a word.
    package static var ones: UInt64 { 0x0101_0101_0101_0101 }
    /// The high bit of every byte of a word.
    package static var highs: UInt64 { 0x8080_8080_8080_8080 }

    /// High bits set where a byte of `word` may be below `limit` (≤ 0x80): exact as to whether any is.
    @inlinable @inline(__always)
    package static func below(_ limit: UInt8, in word: UInt64) -> UInt64 {
        (word &- ones &* UInt64(limit)) & ~word & highs
    }

    /// High bits set where a byte of `word` may equal `byte` (< 0x80): exact as to whether any does.
    @inlinable @inline(__always)
    package static func equal(_ byte: UInt8, in word: UInt64) -> UInt64 {
        let zeroed = word ^ (ones &* UInt64(byte))
        return (zeroed &- ones) & ~zeroed & highs
    }

    /// Whether any byte of `bytes` is one `picks` picks.
    @inlinable @inline(__always)
    package static func contains(
        _ bytes: UnsafeRawBufferPointer, mayHave: (UInt64) -> Bool, picks: (UInt8) -> Bool
    ) -> Bool {
        var at = 0
        while at + 8 <= bytes.count {
            if mayHave(bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self)) {
                for index in at..<at + 8 where picks(bytes[index]) { return true }
            }
            at += 8
        }
        while at < bytes.count {
            if picks(bytes[at]) { return true }
            at += 1
        }
        return false
    }

    /// Whether `byte` is in the ASCII set given as bits: bytes 0–63 in `low`, 64–127 in `high`.
    @inlinable @inline(__always)
    package static func isIn(_ byte: UInt8, low: UInt64, high: UInt64) -> Bool {
        guard byte < 128 else { return false }
        return (byte < 64 ? low : high) >> UInt64(byte & 63) & 1 == 1
    }
}
