import Foundation
import NIOCore
import NIOPosix
import SluiceDNS
import SluiceTestSupport
import Testing


extension FakeDNSServer {
    func client(timeout: TimeAmount = .seconds(2), attempts: Int = 2) throws -> DNSClient {
        DNSClient(
            nameservers: [try SocketAddress(ipAddress: "127.0.0.1", port: port)],
            group: MultiThreadedEventLoopGroup.singleton, timeout: timeout, attempts: attempts)
    }
}

/// The DNS client against a real DNS server: records, failures, changes, TCP fallback, timeouts, spoofed answers.
@Suite(.serialized) struct DNSClientTests {
    static var zone: [String: Any] { [
        "users.test.": ["A": ["10.0.0.1", "10.0.0.2"], "AAAA": ["fd00::1"], "ttl": 7],
        "v4only.test.": ["A": ["10.0.0.9"], "ttl": 30],
        "_users._tcp.test.": ["SRV": [[10, 5, 8081, "a.test."], [20, 1, 8082, "b.test."]], "ttl": 4],
        "a.test.": ["A": ["10.1.0.1"]],
        "b.test.": ["A": ["10.1.0.2"]],
        "big.test.": ["A": ["10.2.0.1"], "truncate": true],
    ] }

    @Test func recordsFailuresAndChanges() async throws {
        let server = try await FakeDNSServer(zone: Self.zone)
        defer { server.stop() }
        let client = try server.client()
        let both = try await client.resolveHost("users.test").get()
        #expect(both.addresses == ["10.0.0.1", "10.0.0.2", "fd00::1"])
        #expect(both.ttl == 7)
        #expect(try await client.resolveHost("v4only.test").get().addresses == ["10.0.0.9"], "no AAAA is no failure")
        #expect(try await client.resolveHost("192.0.2.7").get().addresses == ["192.0.2.7"], "an address answers itself")
        let services = try await client.resolveService("_users._tcp.test").get().services
        #expect(services.map(\.port) == [8081, 8082])
        #expect(services.map(\.addresses) == [["10.1.0.1"], ["10.1.0.2"]])
        await #expect(throws: DNSError.nameError) { try await client.query("missing.test", type: .a).get() }
        await #expect(throws: DNSError.nameError) { try await client.resolveHost("missing.test").get() }

        var changed = Self.zone
        changed["users.test."] = ["A": ["10.0.0.3"], "ttl": 1]
        try server.update(changed)
        var seen: [String] = []
        for _ in 0..<40 where seen != ["10.0.0.3"] {
            seen = try await client.query("users.test", type: .a).get().addresses
            if seen != ["10.0.0.3"] { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(seen == ["10.0.0.3"], "a rewritten zone is answered")
    }

    @Test func truncatedAnswersAreAskedAgainOverTCP() async throws {
        let server = try await FakeDNSServer(zone: Self.zone)
        defer { server.stop() }
        let answer = try await server.client().query("big.test", type: .a).get()
        #expect(answer.addresses == ["10.2.0.1"])
        #expect(!answer.truncated)
    }

    /// A UDP "server" that reads queries and answers with what `answer` makes of them (nothing: silence).
    final class ScriptedServer: ChannelInboundHandler, @unchecked Sendable {
        typealias InboundIn = AddressedEnvelope<ByteBuffer>
        typealias OutboundOut = AddressedEnvelope<ByteBuffer>
        let answer: @Sendable ([UInt8]) -> [[UInt8]]
        init(_ answer: @escaping @Sendable ([UInt8]) -> [[UInt8]]) { self.answer = answer }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            let envelope = unwrapInboundIn(data)
            for reply in answer(Array(envelope.data.readableBytesView)) {
                let buffer = context.channel.allocator.buffer(bytes: reply)
                context.writeAndFlush(wrapOutboundOut(AddressedEnvelope(remoteAddress: envelope.remoteAddress, data: buffer)), promise: nil)
            }
        }
    }

    func scripted(_ answer: @escaping @Sendable ([UInt8]) -> [[UInt8]]) async throws -> any Channel {
        try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(ScriptedServer(answer)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
    }

    @Test func aSilentServerTimesOut() async throws {
        let silent = try await scripted { _ in [] }
        let client = DNSClient(
            nameservers: [silent.localAddress!], group: MultiThreadedEventLoopGroup.singleton, timeout: .milliseconds(200),
            attempts: 1)
        await #expect(throws: DNSError.timeout) { try await client.query("users.test", type: .a).get() }
        try await silent.close()
    }

    @Test func aSpoofedAnswerDoesNotEndTheQuery() async throws {
        // First an answer with another id (what an off-path attacker would guess), then the real one.
        let server = try await scripted { query in
            let question = Array(query[12...])
            func answer(id: [UInt8], address: [UInt8]) -> [UInt8] {
                id + [0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0] + question + [0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4] + address
            }
            let wrong = [query[0] ^ 0xFF, query[1]]
            return [answer(id: wrong, address: [6, 6, 6, 6]), answer(id: [query[0], query[1]], address: [10, 0, 0, 1])]
        }
        let client = DNSClient(nameservers: [server.localAddress!], group: MultiThreadedEventLoopGroup.singleton)
        #expect(try await client.query("users.test", type: .a).get().addresses == ["10.0.0.1"])
        try await server.close()
    }
}
