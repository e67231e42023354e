/// An IPv4 or IPv6 address range: `10.0.0.0/8`, `2001:db8::/32`, or a single address (`127.0.0.1` is `/32`,
/// `::1` is `/128`). IPv4 ranges match IPv4-mapped IPv6 addresses (`::ffff:10.1.2.3` is in `10.0.0.0/8`), and an
/// IPv4-mapped range is the IPv4 range (`::ffff:10.0.0.0/104` equals `10.0.0.0/8`). Bits below the prefix are
/// ignored (`10.1.2.3/8` is `10.0.0.0/8`), as nginx's `set_real_ip_from` does (it only warns).
public struct CIDR: Sendable, Hashable, CustomStringConvertible {
    /// The network in the 128-bit space (IPv4 IPv4-mapped), host bits cleared.
    let network: UInt128
    /// The prefix length in the 128-bit space (`96 + n` for an IPv4 `/n`).
    let length: Int

    /// `nil` on malformed input; `parse` says why.
    public init?(_ text: String) {
        guard let cidr = try? CIDR.parse(text) else { return nil }
        self = cidr
    }

    public static func parse(_ text: String) throws(CIDRError) -> CIDR {
        let parts = text.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPAddress(parts[0]) else {
            throw CIDRError(input: text, reason: "\"\(parts[0])\" is not an IPv4 or IPv6 address")
        }
        let written = IPAddress.parseIPv4(Array(parts[0].utf8)[...]) != nil
        let limit = written ? 32 : 128
        var length = 128
        if parts.count == 2 {
            let digits = parts[1]
            guard (1...3).contains(digits.count), digits.utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                let prefix = Int(digits), prefix <= limit
            else {
                throw CIDRError(input: text, reason: "the prefix length must be a number in 0...\(limit)")
            }
            length = written ? 96 + prefix : prefix
        }
        return CIDR(address: address, length: length)
    }

    init(address: IPAddress, length: Int) {
        self.length = length
        self.network = address.bits & CIDR.mask(length)
    }

    private static func mask(_ length: Int) -> UInt128 {
        length == 0 ? 0 : UInt128.max << (128 - length)
    }

    /// True for ranges inside IPv4 (written as IPv4 or as an IPv4-mapped range of at least `/96`).
    public var isIPv4: Bool { length >= 96 && IPAddress(bits: network).isIPv4 }

    /// The prefix length as written for the family: `8` for `10.0.0.0/8`.
    public var prefixLength: Int { isIPv4 ? length - 96 : length }

    public var description: String { "\(IPAddress(bits: network))/\(prefixLength)" }

    /// True when `address` parses and lies in the range.
    public func contains(_ address: String) -> Bool {
        IPAddress(address).map(contains) ?? false
    }

    func contains(_ address: IPAddress) -> Bool {
        address.bits & CIDR.mask(length) == network
    }
}

/// Why an address range did not parse.
public struct CIDRError: Error, Sendable, Equatable, CustomStringConvertible {
    public let input: String
    public let reason: String

    public var description: String { "invalid address range \"\(input)\": \(reason)" }
}
