import Testing

@testable import SluiceTraffic

/// The client address behind trusted proxies (nginx `real_ip_recursive on`).
@Suite struct TrustedProxiesTests {
    let proxies = try! TrustedProxies(parsing: ["10.0.0.0/8", "127.0.0.1", "2001:db8:1::/48"])

    @Test func anUntrustedPeerIsTheClientWhateverItForwards() {
        #expect(proxies.clientAddress(peer: "203.0.113.7", forwardedFor: ["1.2.3.4"]) == "203.0.113.7")
        #expect(proxies.clientAddress(peer: "203.0.113.7", forwardedFor: []) == "203.0.113.7")
        #expect(proxies.clientAddress(peer: "::ffff:203.0.113.7", forwardedFor: ["1.2.3.4"]) == "203.0.113.7")
    }

    @Test func aTrustedPeerWithoutForwardedForIsTheClient() {
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: []) == "10.0.0.1")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: [""]) == "10.0.0.1")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: [" , ,"]) == "10.0.0.1")
    }

    @Test func walksFromTheRightSkippingTrustedProxies() {
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["198.51.100.4"]) == "198.51.100.4")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["198.51.100.4, 10.0.0.2"]) == "198.51.100.4")
        // A spoofed entry on the left is never believed: the rightmost untrusted one is the client.
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["6.6.6.6, 198.51.100.4, 10.0.0.2, 127.0.0.1"]) == "198.51.100.4")
        // All values of all header lines, in order.
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 198.51.100.4", "10.9.9.9", "10.0.0.2"]) == "198.51.100.4")
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6", "198.51.100.4, 10.0.0.2"]) == "198.51.100.4")
    }

    @Test func allTrustedMeansTheLeftmost() {
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["10.0.0.3, 10.0.0.2"]) == "10.0.0.3")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["127.0.0.1", "10.0.0.2"]) == "127.0.0.1")
    }

    @Test func aMalformedEntryStopsTheWalkAtTheLastGoodAddress() {
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["198.51.100.4, unknown, 10.0.0.2"]) == "10.0.0.2")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["198.51.100.4, 10.0.0.2:8080"]) == "10.0.0.1")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["[2001:db8::1]"]) == "10.0.0.1")
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["1.2.3.4 5.6.7.8"]) == "10.0.0.1")
        // A malformed entry left of the client does not matter: the walk stops before it.
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["garbage, 198.51.100.4"]) == "198.51.100.4")
    }

    @Test func trimsSpacesAndTabsAndIgnoresEmptyItems() {
        #expect(proxies.clientAddress(peer: "10.0.0.1", forwardedFor: ["\t198.51.100.4 ,, 10.0.0.2 \t,"]) == "198.51.100.4")
    }

    @Test func ipv6AndIPv4MappedAddresses() {
        #expect(proxies.clientAddress(peer: "::ffff:10.0.0.1", forwardedFor: ["2001:DB8:0:0::1"]) == "2001:db8::1")
        #expect(proxies.clientAddress(peer: "2001:db8:1::5", forwardedFor: ["::ffff:198.51.100.4"]) == "198.51.100.4")
        #expect(proxies.clientAddress(peer: "2001:db8:1::5", forwardedFor: ["2001:db8:2::9, 2001:db8:1:ffff::1"]) == "2001:db8:2::9")
        #expect(proxies.isTrusted("::ffff:10.200.0.1") && proxies.isTrusted("2001:db8:1:2::") && !proxies.isTrusted("2001:db8:2::"))
    }

    @Test func anUnparseablePeerIsReturnedAsIs() {
        #expect(proxies.clientAddress(peer: "unix:/run/sluice.sock", forwardedFor: ["1.2.3.4"]) == "unix:/run/sluice.sock")
        #expect(proxies.clientAddress(peer: "", forwardedFor: ["1.2.3.4"]) == "")
    }

    @Test func noTrustedRangesMeansThePeer() {
        let none = TrustedProxies([])
        #expect(none.clientAddress(peer: "10.0.0.1", forwardedFor: ["1.2.3.4"]) == "10.0.0.1")
    }

    @Test func parsingReportsTheFirstBadRange() throws {
        #expect(throws: CIDRError(input: "10.0.0.0/40", reason: "the prefix length must be a number in 0...32")) {
            try TrustedProxies(parsing: ["127.0.0.1", "10.0.0.0/40", "bad"])
        }
        #expect(try TrustedProxies(parsing: ["127.0.0.1", "::1"]).ranges == [CIDR("127.0.0.1"), CIDR("::1")])
    }
}
