import SluiceDNS
import Testing

/// resolv.conf and hosts files.
@Suite struct ResolvConfTests {
    @Test func nameservers() {
        let text = """
            # generated
            search example.internal
            nameserver 10.0.0.2
            nameserver   fe80::1%eth0   ; link-local
            nameserver 1.1.1.1 # comment
            options ndots:2
            nameserver
            """
        #expect(ResolvConf.nameservers(text) == ["10.0.0.2", "fe80::1", "1.1.1.1"])
        #expect(ResolvConf.nameservers("") == [])
    }

    @Test func hostsFile() {
        let text = "127.0.0.1 localhost\n10.0.0.5 users.internal users # main\n::1 localhost ip6-localhost\n"
        #expect(HostsFile.addresses(for: "LOCALHOST", in: text) == ["127.0.0.1", "::1"])
        #expect(HostsFile.addresses(for: "users", in: text) == ["10.0.0.5"])
        #expect(HostsFile.addresses(for: "main", in: text) == [], "comments are not names")
    }
}
