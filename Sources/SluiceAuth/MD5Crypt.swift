import Crypto

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The MD5-based crypt of Poul-Henning Kamp: Apache's `$apr1$` (htpasswd's default) and its original `$1$`, which
/// differ only in the magic string mixed into the hash.
///
/// libxcrypt knows `$1$` but not `$apr1$`, so both are done here, with swift-crypto's MD5. MD5-crypt is weak by
/// today's measure (1000 MD5 rounds); it is accepted because Apache still writes it by default.
struct MD5Crypt: Sendable, Equatable {
    static let apacheMagic = Array("$apr1$".utf8)
    static let originalMagic = Array("$1$".utf8)
    private static let alphabet = Array("./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    let magic: [UInt8]
    let salt: [UInt8]
    /// The 22 characters after the salt.
    let checksum: [UInt8]

    /// Parses `$apr1$SALT$CHECKSUM` or `$1$SALT$CHECKSUM` (a salt of at most 8 characters), or nil.
    init?(_ hash: some StringProtocol) {
        let bytes = Array(hash.utf8)
        guard let magic = [Self.apacheMagic, Self.originalMagic].first(where: { bytes.starts(with: $0) }) else {
            return nil
        }
        let rest = bytes[magic.count...]
        guard let dollar = rest.firstIndex(of: UInt8(ascii: "$")) else { return nil }
        let salt = rest[..<dollar]
        let checksum = rest[(dollar + 1)...]
        guard salt.count <= 8, checksum.count == 22, checksum.allSatisfy(Self.alphabet.contains) else { return nil }
        self.magic = magic
        self.salt = Array(salt)
        self.checksum = Array(checksum)
    }

    /// Whether `password` hashes to this checksum (compared in constant time).
    func matches(_ password: some StringProtocol) -> Bool {
        constantTimeEquals(Self.checksum(password: Array(password.utf8), salt: salt, magic: magic), checksum)
    }

    /// The 22-character checksum of `password` (md5crypt.c, FreeBSD; Apache's apr_md5.c).
    static func checksum(password: [UInt8], salt: [UInt8], magic: [UInt8]) -> [UInt8] {
        var alternate = Insecure.MD5()
        alternate.update(data: password)
        alternate.update(data: salt)
        alternate.update(data: password)
        let alternateSum = Array(alternate.finalize())

        var context = Insecure.MD5()
        context.update(data: password)
        context.update(data: magic)
        context.update(data: salt)
        var remaining = password.count
        while remaining > 0 {
            context.update(data: alternateSum[0..<min(remaining, 16)])
            remaining -= 16
        }
        // One byte per bit of the length: a zero byte for a set bit, the password's first byte for a clear one.
        var length = password.count
        while length > 0 {
            context.update(data: length & 1 == 1 ? [0] : [password[0]])
            length >>= 1
        }
        var sum = Array(context.finalize())

        for round in 0..<1000 {
            var step = Insecure.MD5()
            if round & 1 == 1 { step.update(data: password) } else { step.update(data: sum) }
            if round % 3 != 0 { step.update(data: salt) }
            if round % 7 != 0 { step.update(data: password) }
            if round & 1 == 1 { step.update(data: sum) } else { step.update(data: password) }
            sum = Array(step.finalize())
        }

        var out: [UInt8] = []
        out.reserveCapacity(22)
        func append(_ value: UInt32, characters: Int) {
            var value = value
            for _ in 0..<characters {
                out.append(alphabet[Int(value & 0x3F)])
                value >>= 6
            }
        }
        for (a, b, c) in [(0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5)] {
            append(UInt32(sum[a]) << 16 | UInt32(sum[b]) << 8 | UInt32(sum[c]), characters: 4)
        }
        append(UInt32(sum[11]), characters: 2)
        return out
    }
}
