/// An IPv4 or IPv6 address as 128 bits, IPv4 stored IPv4-mapped (`::ffff:a.b.c.d`, RFC 4291 §2.5.5.2), so that
/// `10.1.2.3` and `::ffff:10.1.2.3` are the same address and IPv4 ranges match both.
///
/// Parsing is strict and needs no Foundation or `inet_pton`:
/// - IPv4: exactly four decimal parts of 1–3 digits, each at most 255, no leading zeros (`010` is octal to some
///   parsers and decimal to others, so it is refused, as `inet_pton` does).
/// - IPv6 (RFC 4291 §2.2): eight groups of 1–4 hex digits, at most one `::` standing for one or more zero groups,
///   optionally ending in a dotted IPv4 address for the last 32 bits. No zone (`%eth0`), no brackets, no port.
///
/// `description` is the canonical text: dotted for IPv4 (and IPv4-mapped), RFC 5952 for IPv6 (lowercase, no
/// leading zeros, the longest run of two or more zero groups, the first on a tie, as `::`).
struct IPAddress: Sendable, Hashable, CustomStringConvertible {
    let bits: UInt128

    static let mappedPrefix: UInt128 = 0xffff << 32

    init(bits: UInt128) { self.bits = bits }

    init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        if let ipv4 = IPAddress.parseIPv4(bytes[...]) {
            bits = IPAddress.mappedPrefix | UInt128(ipv4)
        } else if let ipv6 = IPAddress.parseIPv6(bytes[...]) {
            bits = ipv6
        } else {
            return nil
        }
    }

    /// True for IPv4 (IPv4-mapped) addresses.
    var isIPv4: Bool { bits >> 32 == 0xffff }

    var description: String {
        if isIPv4 {
            let value = UInt32(truncatingIfNeeded: bits)
            return (0..<4).map { String((value >> (24 - 8 * $0)) & 0xff) }.joined(separator: ".")
        }
        let groups = (0..<8).map { UInt16(truncatingIfNeeded: bits >> (112 - 16 * $0)) }
        // The longest run of at least two zero groups, the first on a tie.
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            guard groups[index] == 0 else {
                index += 1
                continue
            }
            var end = index
            while end < 8 && groups[end] == 0 { end += 1 }
            if end - index > best.length && end - index >= 2 { best = (index, end - index) }
            index = end
        }
        func hex(_ range: Range<Int>) -> String {
            groups[range].map { String($0, radix: 16) }.joined(separator: ":")
        }
        guard best.length > 0 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }

    // MARK: Parsing

    private static let dot = UInt8(ascii: "."), colon = UInt8(ascii: ":")

    static func parseIPv4(_ bytes: ArraySlice<UInt8>) -> UInt32? {
        let parts = bytes.split(separator: dot, omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var value: UInt32 = 0
        for part in parts {
            guard (1...3).contains(part.count), part.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
            if part.count > 1 && part.first == 0x30 { return nil }
            let octet = part.reduce(UInt32(0)) { $0 * 10 + UInt32($1 - 0x30) }
            guard octet <= 255 else { return nil }
            value = value << 8 | octet
        }
        return value
    }

    static func parseIPv6(_ bytes: ArraySlice<UInt8>) -> UInt128? {
        // Find the one `::`, if any.
        var doubleColon: Int?
        var index = bytes.startIndex
        while index < bytes.endIndex - 1 {
            if bytes[index] == colon && bytes[index + 1] == colon {
                guard doubleColon == nil else { return nil }
                doubleColon = index
                index += 2
            } else {
                index += 1
            }
        }
        if let split = doubleColon {
            guard let head = groups(bytes[bytes.startIndex..<split], ipv4Tail: false),
                let tail = groups(bytes[(split + 2)...], ipv4Tail: true),
                head.count + tail.count <= 7
            else { return nil }
            return combine(head + Array(repeating: 0, count: 8 - head.count - tail.count) + tail)
        }
        guard let all = groups(bytes, ipv4Tail: true), all.count == 8 else { return nil }
        return combine(all)
    }

    /// The 16-bit groups of a colon-separated run (empty for an empty run); `nil` if any part is malformed.
    private static func groups(_ bytes: ArraySlice<UInt8>, ipv4Tail: Bool) -> [UInt16]? {
        if bytes.isEmpty { return [] }
        let parts = bytes.split(separator: colon, omittingEmptySubsequences: false)
        guard parts.count <= 8 else { return nil }
        var result: [UInt16] = []
        for (position, part) in parts.enumerated() {
            if ipv4Tail && position == parts.count - 1 && part.contains(dot) {
                guard let ipv4 = parseIPv4(part) else { return nil }
                result.append(UInt16(ipv4 >> 16))
                result.append(UInt16(ipv4 & 0xffff))
                continue
            }
            guard (1...4).contains(part.count) else { return nil }
            var group: UInt16 = 0
            for byte in part {
                guard let digit = hexDigit(byte) else { return nil }
                group = group << 4 | digit
            }
            result.append(group)
        }
        return result
    }

    private static func hexDigit(_ byte: UInt8) -> UInt16? {
        switch byte {
        case 0x30...0x39: UInt16(byte - 0x30)
        case 0x41...0x46: UInt16(byte - 0x41 + 10)
        case 0x61...0x66: UInt16(byte - 0x61 + 10)
        default: nil
        }
    }

    private static func combine(_ groups: [UInt16]) -> UInt128? {
        guard groups.count == 8 else { return nil }
        return groups.reduce(UInt128(0)) { $0 << 16 | UInt128($1) }
    }
}
