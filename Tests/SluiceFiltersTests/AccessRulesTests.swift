import SluiceFilters
import SluiceTraffic
import Testing

/// `allow` and `deny` by client address.
@Suite struct AccessRulesTests {
    func rules(allow: String = "", deny: String = "") throws -> AccessRules {
        AccessRules(
            allow: allow.isEmpty ? [] : try AccessRules.parseList(allow),
            deny: deny.isEmpty ? [] : try AccessRules.parseList(deny))
    }

    @Test func allowLists() throws {
        let access = try rules(allow: "10.0.0.0/8, 192.168.1.7 fd00::/8")
        #expect(access.permits("10.1.2.3"))
        #expect(access.permits("192.168.1.7"))
        #expect(!access.permits("192.168.1.8"))
        #expect(access.permits("fd12::1"))
        #expect(!access.permits("2001:db8::1"))
        #expect(access.permits("::ffff:10.9.9.9"), "IPv4-mapped IPv6 matches IPv4 ranges")
        #expect(!access.permits("not-an-address"))
        #expect(!access.permits(""))
    }

    @Test func denyWinsAndEmptyAllowPermits() throws {
        let both = try rules(allow: "10.0.0.0/8", deny: "10.66.0.0/16")
        #expect(both.permits("10.1.0.1"))
        #expect(!both.permits("10.66.1.1"), "deny wins over allow")
        let denyOnly = try rules(deny: "127.0.0.1, ::1")
        #expect(!denyOnly.permits("127.0.0.1"))
        #expect(!denyOnly.permits("::1"))
        #expect(denyOnly.permits("127.0.0.2"))
        #expect(!denyOnly.permits("garbage"), "an address that does not parse never passes")
    }

    @Test func badLists() {
        for text in ["", "10.0.0.0/33", "10.0.0", "fd00::/129", "example.com", "10.0.0.1/8x"] {
            #expect(throws: FilterSyntaxError.self, "\(text)") { try AccessRules.parseList(text) }
        }
    }
}
