import Testing

@testable import SluiceDNS

/// Hostile answers: every one is refused with a `DNSError` or parsed; none traps.
@Suite struct DNSHostileInputTests {
    func parse(_ bytes: [UInt8]) -> Result<DNSAnswer, DNSError> {
        do {
            return .success(try DNSMessage.parse(bytes, id: 0x1234, name: "users.internal", type: .a))
        } catch {
            return .failure(error)
        }
    }

    func isMalformed(_ bytes: [UInt8]) -> Bool {
        if case .failure(.malformed) = parse(bytes) { return true }
        return false
    }

    @Test func pointerLoopsAndForwardPointers() {
        var loop = DNSPacket()
        loop.answers = [DNSPacket.record(owner: [0xC0, 0x30], type: 1, ttl: 1, data: [1, 2, 3, 4])]
        var bytes = loop.bytes
        // Make the pointer point at itself.
        bytes[32] = 0xC0
        bytes[33] = 32
        #expect(isMalformed(bytes))
        var forward = DNSPacket()
        forward.answers = [DNSPacket.record(owner: [0xC0, 0xFF], type: 1, ttl: 1, data: [1, 2, 3, 4])]
        #expect(isMalformed(forward.bytes))
    }

    @Test func lengthsPastTheEnd() {
        var packet = DNSPacket()
        packet.answers = [DNSPacket.a("users.internal", [10, 0, 0, 1])]
        let bytes = packet.bytes
        for cut in [5, 12, 20, bytes.count - 1] {
            #expect(isMalformed(Array(bytes.prefix(cut))) || cut < 12, "cut at \(cut)")
        }
        var long = packet
        long.answers = [DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 1, ttl: 1, data: [1, 2, 3, 4]) ]
        var raw = long.bytes
        raw[raw.count - 5] = 0xFF  // rdlength low byte
        #expect(isMalformed(raw))
        var wrongSize = DNSPacket()
        wrongSize.answers = [DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 1, ttl: 1, data: [1, 2, 3])]
        #expect(isMalformed(wrongSize.bytes), "an A record of 3 bytes")
    }

    @Test func randomAndMutatedPacketsNeverTrap() {
        var random = SplitMix(seed: 0x5EED)
        var packet = DNSPacket()
        packet.answers = [DNSPacket.a("users.internal", [10, 0, 0, 1]),
                          DNSPacket.record(owner: DNSPacket.name("users.internal"), type: 5, ttl: 1, data: [0xC0, 12])]
        let valid = packet.bytes
        var parsed = 0
        for round in 0..<20_000 {
            var bytes = valid
            if round % 5 == 0 {
                bytes = (0..<Int(random.next() % 80)).map { _ in UInt8(truncatingIfNeeded: random.next()) }
            } else {
                for _ in 0..<(1 + Int(random.next() % 4)) {
                    bytes[Int(random.next() % UInt64(bytes.count))] = UInt8(truncatingIfNeeded: random.next())
                }
                if random.next() % 3 == 0 { bytes = Array(bytes.prefix(Int(random.next() % UInt64(bytes.count + 1)))) }
            }
            if case .success = parse(bytes) { parsed += 1 }
        }
        #expect(parsed > 0, "some mutations still parse (the loop reached the record code)")
    }
}

struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
