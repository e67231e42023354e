@testable import SluiceDNS

/// Builds DNS answers by hand for the codec tests.
struct DNSPacket {
    var id: UInt16 = 0x1234
    var flags: UInt16 = 0x8180  // QR, RD, RA, NOERROR
    var question: (name: String, type: UInt16) = ("users.internal", 1)
    var answers: [[UInt8]] = []
    var additionals: [[UInt8]] = []
    var questionCount: UInt16 = 1

    static func name(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        for label in text.split(separator: ".") {
            bytes.append(UInt8(label.utf8.count))
            bytes += Array(label.utf8)
        }
        return bytes + [0]
    }

    static func u16(_ value: UInt16) -> [UInt8] { [UInt8(value >> 8), UInt8(value & 0xFF)] }
    static func u32(_ value: UInt32) -> [UInt8] { u16(UInt16(value >> 16)) + u16(UInt16(value & 0xFFFF)) }

    /// A resource record; `owner` as raw bytes (a name or a compression pointer).
    static func record(owner: [UInt8], type: UInt16, ttl: UInt32, data: [UInt8]) -> [UInt8] {
        owner + u16(type) + u16(1) + u32(ttl) + u16(UInt16(data.count)) + data
    }

    static func a(_ owner: String, _ address: [UInt8], ttl: UInt32 = 60) -> [UInt8] {
        record(owner: name(owner), type: 1, ttl: ttl, data: address)
    }

    var bytes: [UInt8] {
        var out = Self.u16(id) + Self.u16(flags) + Self.u16(questionCount) + Self.u16(UInt16(answers.count))
            + Self.u16(0) + Self.u16(UInt16(additionals.count))
        out += Self.name(question.name) + Self.u16(question.type) + Self.u16(1)
        for answer in answers { out += answer }
        for additional in additionals { out += additional }
        return out
    }
}
