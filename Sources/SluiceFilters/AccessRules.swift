public import SluiceTraffic

/// `allow` and `deny`: which client addresses a route serves (nginx's `allow`/`deny`, Traefik's IPAllowList). An
/// address inside a `deny` range is refused; when `allow` is given, an address outside every `allow` range is
/// refused. IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) match IPv4 ranges.
public struct AccessRules: Hashable, Sendable {
    public let allow: [CIDR]
    public let deny: [CIDR]

    public init(allow: [CIDR], deny: [CIDR]) {
        self.allow = allow
        self.deny = deny
    }

    /// `10.0.0.0/8, 192.168.1.7 ::1`: addresses (one host) or CIDR ranges, IPv4 or IPv6.
    public static func parseList(_ text: some StringProtocol) throws(FilterSyntaxError) -> [CIDR] {
        let items = text.split(whereSeparator: { $0 == "," || $0 == " " || $0 == "\t" })
        guard !items.isEmpty else { throw FilterSyntaxError(expected: "addresses or ranges like 10.0.0.0/8, ::1", got: text) }
        var ranges: [CIDR] = []
        for item in items {
            let word = String(item)
            guard let range = CIDR(word) else {
                throw FilterSyntaxError(expected: "an address or a range like 10.0.0.0/8 or fd00::/8", got: word)
            }
            ranges.append(range)
        }
        return ranges
    }

    /// Whether `address` may pass; an address that does not parse never does.
    public func permits(_ address: String) -> Bool {
        guard CIDR(address) != nil else { return false }
        if deny.contains(where: { $0.contains(address) }) { return false }
        return allow.isEmpty || allow.contains(where: { $0.contains(address) })
    }
}
