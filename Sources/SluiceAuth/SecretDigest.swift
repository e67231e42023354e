import Crypto

/// The SHA-256 digest of a secret (an API key, a token): what stores and caches keep instead of the secret.
///
/// Held as four words so that equality is four comparisons, not a byte loop that exits at the first difference.
/// (Such a loop over digests would leak nothing useful anyway, a digest cannot be inverted, but there is none.)
struct SecretDigest: Hashable, Sendable {
    private let words: (UInt64, UInt64, UInt64, UInt64)

    /// The digest of the UTF-8 bytes of `secret`.
    init(of secret: some StringProtocol) {
        self = sluiceAuthSHA256(secret).withUnsafeBytes { SecretDigest(bytes: $0) }
    }

    /// A digest written as 64 hexadecimal digits (either case), or nil.
    init?(hex: some StringProtocol) {
        let digits = Array(hex.utf8)
        guard digits.count == 64 else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        for index in 0..<32 {
            guard let high = Self.nibble(digits[2 * index]), let low = Self.nibble(digits[2 * index + 1]) else {
                return nil
            }
            bytes[index] = high << 4 | low
        }
        self = bytes.withUnsafeBytes { SecretDigest(bytes: $0) }
    }

    private init(bytes: UnsafeRawBufferPointer) {
        precondition(bytes.count == 32)
        words = (
            bytes.loadUnaligned(fromByteOffset: 0, as: UInt64.self),
            bytes.loadUnaligned(fromByteOffset: 8, as: UInt64.self),
            bytes.loadUnaligned(fromByteOffset: 16, as: UInt64.self),
            bytes.loadUnaligned(fromByteOffset: 24, as: UInt64.self)
        )
    }

    static func == (lhs: SecretDigest, rhs: SecretDigest) -> Bool {
        (lhs.words.0 ^ rhs.words.0) | (lhs.words.1 ^ rhs.words.1) | (lhs.words.2 ^ rhs.words.2)
            | (lhs.words.3 ^ rhs.words.3) == 0
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(words.0)
        hasher.combine(words.1)
        hasher.combine(words.2)
        hasher.combine(words.3)
    }

    private static func nibble(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}

enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)

    /// Lowercase hexadecimal of the SHA-256 digest of the UTF-8 bytes of `text`.
    static func sha256(_ text: some StringProtocol) -> String {
        let digest = sluiceAuthSHA256(text)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in digest {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Whether two byte sequences are equal, in time that depends on their lengths only.
func constantTimeEquals(_ lhs: some Collection<UInt8>, _ rhs: some Collection<UInt8>) -> Bool {
    guard lhs.count == rhs.count else { return false }
    var difference: UInt8 = 0
    for (a, b) in zip(lhs, rhs) { difference |= a ^ b }
    return difference == 0
}

/// The SHA-256 digest of the UTF-8 bytes of `text`, hashed in place when the text is contiguous.
func sluiceAuthSHA256(_ text: some StringProtocol) -> SHA256.Digest {
    var hasher = SHA256()
    let hashed: Void? = text.utf8.withContiguousStorageIfAvailable {
        hasher.update(bufferPointer: UnsafeRawBufferPointer($0))
    }
    if hashed == nil { hasher.update(data: Array(text.utf8)) }
    return hasher.finalize()
}
