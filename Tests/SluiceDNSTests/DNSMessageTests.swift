import Testing

@testable import SluiceDNS

/// Queries as bytes, and answers parsed: records, CNAME chains, TTLs, failure codes, answers to other questions.
@Suite struct DNSMessageTests {
    @Test func queryEncoding() throws {
        let query = try DNSMessage.query(id: 0xBEEF, name: "users.internal.", type: .srv)
        #expect(Array(query[0..<12]) == [0xBE, 0xEF, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0])
        #expect(Array(query[12...]) == DNSPacket.name("users.internal") + [0, 33, 0, 1])
        for bad in ["", ".", "a..b", String(repeating: "a", count: 64) + ".x", String(repeating: "abcdefghi.", count: 26),
                    "spa ce.x"] {
            #expect(throws: DNSError.self, "\(bad)") { try DNSMessage.query(id: 1, name: bad, type: .a) }
        }
    }

    @Test func addressesAndTheSmallestTTL() throws {
        var packet = DNSPacket()
        packet.answers = [DNSPacket.a("users.internal", [10, 0, 0, 1], ttl: 30), DNSPacket.a("users.internal", [10, 0, 0, 2], ttl: 5)]
        let answer = try DNSMessage.parse(packet.bytes, id: 0x1234, name: "Users.Internal.", type: .a)
        #expect(answer.addresses == ["10.0.0.1", "10.0.0.2"])
        #expect(answer.ttl == 5)
        #expect(!answer.truncated)
    }

    @Test func ipv6Text() throws {
        var packet = DNSPacket()
        packet.question.type = 28
        let v6: [UInt8] = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]
        let full: [UInt8] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6]
        packet.answers = [DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 28, ttl: 9, data: v6),
                          DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 28, ttl: 9, data: full)]
        let answer = try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .aaaa)
        #expect(answer.addresses == ["fd00::1", "2001:db8:1:2:3:4:5:6"])
    }

    @Test func cnameChainsAreFollowedFromTheNameAsked() throws {
        var packet = DNSPacket()
        packet.answers = [
            DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 5, ttl: 60, data: DNSPacket.name("lb.internal")),
            DNSPacket.a("lb.internal", [10, 0, 0, 9], ttl: 20),
            DNSPacket.a("elsewhere.internal", [10, 6, 6, 6]),
        ]
        let answer = try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a)
        #expect(answer.addresses == ["10.0.0.9"], "records of names outside the chain are ignored")
    }

    @Test func serviceRecordsWithTheirTargetsAddresses() throws {
        var packet = DNSPacket()
        packet.question = ("_users._tcp.internal", 33)
        packet.answers = [DNSPacket.record(
            owner: [0xC0, 12], type: 33, ttl: 15,
            data: DNSPacket.u16(10) + DNSPacket.u16(5) + DNSPacket.u16(8081) + DNSPacket.name("a.internal"))]
        packet.additionals = [DNSPacket.a("a.internal", [10, 0, 0, 3], ttl: 3)]
        let answer = try DNSMessage.parse(packet.bytes, id: 0x1234, name: "_users._tcp.internal", type: .srv)
        #expect(answer.services == [DNSService(priority: 10, weight: 5, port: 8081, target: "a.internal", addresses: ["10.0.0.3"])])
        #expect(answer.ttl == 3)
    }

    @Test func failureCodes() {
        var packet = DNSPacket()
        packet.flags = 0x8183
        #expect(throws: DNSError.nameError) { try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a) }
        packet.flags = 0x8182
        #expect(throws: DNSError.serverFailure(2)) { try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a) }
        packet.flags = 0x8185
        #expect(throws: DNSError.serverFailure(5)) { try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a) }
        packet.flags = 0x8180
        #expect(throws: DNSError.noAnswer) { try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a) }
    }

    @Test func answersToAnotherQueryAreMismatched() {
        var packet = DNSPacket()
        packet.answers = [DNSPacket.a("users.internal", [10, 0, 0, 1])]
        #expect(throws: DNSError.mismatched) { try DNSMessage.parse(packet.bytes, id: 0x9999, name: "users.internal", type: .a) }
        #expect(throws: DNSError.mismatched) { try DNSMessage.parse(packet.bytes, id: 0x1234, name: "other.internal", type: .a) }
        #expect(throws: DNSError.mismatched) { try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .aaaa) }
        var query = packet
        query.flags = 0x0100  // QR unset: a query, not an answer
        #expect(throws: DNSError.mismatched) { try DNSMessage.parse(query.bytes, id: 0x1234, name: "users.internal", type: .a) }
        var two = packet
        two.questionCount = 2
        #expect(throws: (any Error).self) { try DNSMessage.parse(two.bytes, id: 0x1234, name: "users.internal", type: .a) }
    }

    @Test func truncatedAnswersSaySo() throws {
        var packet = DNSPacket()
        packet.flags = 0x8380
        let answer = try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a)
        #expect(answer.truncated)
    }
}
