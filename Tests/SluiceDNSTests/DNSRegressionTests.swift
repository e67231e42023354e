import NIOCore
import NIOPosix
import Testing

@testable import SluiceDNS

/// Bugs a review found in the first version, each pinned by the input that showed it.
@Suite struct DNSRegressionTests {
    @Test func crlfFilesSplitIntoLines() {
        #expect(ResolvConf.nameservers("nameserver 10.0.0.1\r\nnameserver 10.0.0.2\r\n") == ["10.0.0.1", "10.0.0.2"])
        let hosts = "10.0.0.5 users.internal\r\n127.0.0.1 localhost\r\n"
        #expect(HostsFile.addresses(for: "users.internal", in: hosts) == ["10.0.0.5"])
        #expect(HostsFile.addresses(for: "localhost", in: hosts) == ["127.0.0.1"])
    }

    @Test func anAliasLivesNoLongerThanItsCNAME() throws {
        var packet = DNSPacket()
        packet.answers = [
            DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 5, ttl: 5, data: DNSPacket.name("lb.internal")),
            DNSPacket.a("lb.internal", [10, 0, 0, 9], ttl: 300),
        ]
        #expect(try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a).ttl == 5)
    }

    @Test func addressSizesMustFitTheirType() {
        var a = DNSPacket()
        a.answers = [DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 1, ttl: 1, data: Array(repeating: 1, count: 16))]
        #expect(throws: DNSError.self) { try DNSMessage.parse(a.bytes, id: 0x1234, name: "users.internal", type: .a) }
        var aaaa = DNSPacket()
        aaaa.question.type = 28
        aaaa.answers = [DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 28, ttl: 1, data: [1, 1, 1, 1])]
        #expect(throws: DNSError.self) { try DNSMessage.parse(aaaa.bytes, id: 0x1234, name: "users.internal", type: .aaaa) }
    }

    @Test func aNameOf256BytesOnTheWireIsRefused() throws {
        var bytes: [UInt8] = []
        for size in [63, 63, 63, 62] {
            bytes.append(UInt8(size))
            bytes += Array(repeating: UInt8(ascii: "a"), count: size)
        }
        bytes.append(0)
        #expect(bytes.count == 256)
        var reader = Reader(bytes: bytes)
        #expect(throws: DNSError.self) { try reader.name() }
        // One byte less (labels 63, 63, 63, 61: 255 bytes) is a name.
        var fits: [UInt8] = []
        for size in [63, 63, 63, 61] {
            fits.append(UInt8(size))
            fits += Array(repeating: UInt8(ascii: "a"), count: size)
        }
        fits.append(0)
        var reader255 = Reader(bytes: fits)
        #expect(try reader255.name().utf8.count == 63 * 3 + 61 + 3)
    }

    @Test func aCNAMETargetMustStayInsideItsRecord() {
        var packet = DNSPacket()
        packet.answers = [
            DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 5, ttl: 5, data: []),
            DNSPacket.a("lb.internal", [6, 6, 6, 6]),
        ]
        #expect(throws: DNSError.self) { try DNSMessage.parse(packet.bytes, id: 0x1234, name: "users.internal", type: .a) }
    }

    @Test func aForgedShortDatagramDoesNotEndTheQuery() async throws {
        let server = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(DNSClientTests.ScriptedServer { query in
                        let question = Array(query[12...])
                        let answer = [query[0], query[1], 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + question
                            + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1]
                        return [[1, 2, 3], answer]
                    })
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let client = DNSClient(nameservers: [server.localAddress!], group: MultiThreadedEventLoopGroup.singleton)
        #expect(try await client.query("users.test", type: .a).get().addresses == ["10.0.0.1"])
        try await server.close()
    }
}
