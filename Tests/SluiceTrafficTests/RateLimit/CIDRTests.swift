import Testing

@testable import SluiceTraffic

/// Address and range parsing: strict IPv4, IPv6 with `::`, IPv4-mapped addresses in IPv4 ranges.
@Suite struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("127.0.0.1", "127.0.0.1/32"),
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("10.1.2.3/8", "10.0.0.0/8"),
        ("::1", "::1/128"),
        ("::", "::/128"),
        ("::/0", "::/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:0DB8:0000:0000::/32", "2001:db8::/32"),
        ("fe80::1:2/64", "fe80::/64"),
        ("::ffff:10.1.2.3", "10.1.2.3/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8/128"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0/128"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8/128"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304/128"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1/128"),
        ("2001:0:0:1:0:0:0:1", "2001:0:0:1::1/128"),
    ])
    func parsesAndPrintsCanonically(text: String, canonical: String) throws {
        let cidr = try CIDR.parse(text)
        #expect(cidr.description == canonical)
        #expect(CIDR(text) == cidr)
        #expect(CIDR(canonical) == cidr)
    }

    @Test(arguments: [
        "", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/8/8", "10.0.0.0/a",
        "10.0.0/8", "10.0.0.0.0", "256.0.0.1", "01.2.3.4", "1.2.3.04", "1..2.3", "1.2.3.4.", ".1.2.3.4", "1.2.3.-4",
        " 10.0.0.1", "10.0.0.1 ", "::1/129", "::1/1000", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "1::2::3", ":::",
        ":1::", "1::2:", "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "g::", "::ffff:1.2.3",
        "::ffff:1.2.3.4.5", "1.2.3.4::", "::1.2.3.4:5", "[::1]", "fe80::1%eth0", "1.2.3.4:80", "localhost",
    ])
    func refusesMalformedInput(text: String) {
        #expect(CIDR(text) == nil)
        #expect(throws: CIDRError.self) { try CIDR.parse(text) }
    }

    @Test func errorsSayWhatIsWrong() {
        #expect(throws: CIDRError(input: "10.0.0.0/33", reason: "the prefix length must be a number in 0...32")) {
            try CIDR.parse("10.0.0.0/33")
        }
        #expect(throws: CIDRError(input: "::/200", reason: "the prefix length must be a number in 0...128")) {
            try CIDR.parse("::/200")
        }
        do {
            _ = try CIDR.parse("10.0.0.256/8")
            Issue.record("parsed")
        } catch {
            #expect(error.description == #"invalid address range "10.0.0.256/8": "10.0.0.256" is not an IPv4 or IPv6 address"#)
        }
    }

    @Test func containment() throws {
        let ten = try #require(CIDR("10.0.0.0/8"))
        #expect(ten.contains("10.0.0.0") && ten.contains("10.255.255.255"))
        #expect(!ten.contains("11.0.0.0") && !ten.contains("9.255.255.255"))
        #expect(ten.contains("::ffff:10.1.2.3") && ten.contains("::FFFF:a01:203"))
        #expect(!ten.contains("::a01:203"))  // IPv4-compatible (deprecated), not mapped
        #expect(!ten.contains("not an address"))
        #expect(ten.isIPv4 && ten.prefixLength == 8)

        let documentation = try #require(CIDR("2001:db8::/32"))
        #expect(documentation.contains("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff") && documentation.contains("2001:DB8::1"))
        #expect(!documentation.contains("2001:db9::") && !documentation.contains("10.0.0.1"))
        #expect(!documentation.isIPv4 && documentation.prefixLength == 32)

        let loopback = try #require(CIDR("::1"))
        #expect(loopback.contains("0:0:0:0:0:0:0:1") && !loopback.contains("::2"))
        let host = try #require(CIDR("127.0.0.1"))
        #expect(host.prefixLength == 32 && host.contains("127.0.0.1") && !host.contains("127.0.0.2"))

        let everyIPv4 = try #require(CIDR("0.0.0.0/0"))
        #expect(everyIPv4.contains("203.0.113.9") && everyIPv4.contains("::ffff:1.1.1.1") && !everyIPv4.contains("::1"))
        let everything = try #require(CIDR("::/0"))
        #expect(everything.contains("::1") && everything.contains("1.2.3.4"))
    }

    @Test func addressesPrintCanonically() {
        let cases = [
            ("0:0:0:0:0:0:0:0", "::"), ("0:0:0:0:0:0:0:1", "::1"), ("1:0:0:0:0:0:0:0", "1::"),
            ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("1:0:2:0:3:0:4:0", "1:0:2:0:3:0:4:0"),
            ("ABCD:EF01:0:0:0:0:0:0012", "abcd:ef01::12"), ("::FFFF:192.0.2.1", "192.0.2.1"),
            ("192.0.2.1", "192.0.2.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ]
        for (text, canonical) in cases {
            #expect(IPAddress(text)?.description == canonical, "\(text)")
        }
    }
}
