/// Which peers may tell us the client's address in `X-Forwarded-For`, and the client address that follows
/// (nginx's `set_real_ip_from` + `real_ip_header X-Forwarded-For` + `real_ip_recursive on`).
///
/// `clientAddress(peer:forwardedFor:)`:
/// - The peer (the TCP peer address) is the client unless it is trusted.
/// - If it is, the `X-Forwarded-For` entries (all values of all header lines, in order, split at commas,
///   trimmed of spaces and tabs; empty entries ignored) are walked from the right, the end closest to us, skipping
///   trusted addresses; the first untrusted one is the client. Entries left of it were written by the client (or
///   proxies we do not trust) and are never believed.
/// - If every entry is trusted, the leftmost one is the client (as nginx does).
/// - A malformed entry (not a strict IPv4/IPv6 address: no port, brackets or zone) stops the walk, and the last
///   good address seen (the one to its right, or the peer) is the client. nginx stops the same way.
///
/// The answer is the canonical text of the address (see `IPAddress`: an IPv4-mapped address as plain IPv4, IPv6
/// per RFC 5952), so that one client always gets one rate-limit key however a proxy spells its address. A peer
/// that does not parse (a Unix socket) is returned unchanged.
public struct TrustedProxies: Sendable {
    public let ranges: [CIDR]

    public init(_ ranges: [CIDR]) {
        self.ranges = ranges
    }

    /// Parses each range; throws the first error.
    public init(parsing texts: [String]) throws(CIDRError) {
        var ranges: [CIDR] = []
        for text in texts { ranges.append(try CIDR.parse(text)) }
        self.ranges = ranges
    }

    /// True when `address` parses and lies in one of the ranges.
    public func isTrusted(_ address: String) -> Bool {
        IPAddress(address).map(isTrusted) ?? false
    }

    func isTrusted(_ address: IPAddress) -> Bool {
        ranges.contains { $0.contains(address) }
    }

    public func clientAddress(peer: String, forwardedFor: [String]) -> String {
        guard let peerAddress = IPAddress(peer) else { return peer }
        guard isTrusted(peerAddress) else { return peerAddress.description }
        let entries = forwardedFor.flatMap { line in
            line.split(separator: ",", omittingEmptySubsequences: false).map(TrustedProxies.trimmed)
        }
        var lastGood = peerAddress
        for entry in entries.reversed() where !entry.isEmpty {
            guard let address = IPAddress(entry) else { break }
            lastGood = address
            if !isTrusted(address) { break }
        }
        return lastGood.description
    }

    private static func trimmed(_ text: Substring) -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = text.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = text.lastIndex(where: { !isSpace($0) })!
        return text[first...last]
    }
}
