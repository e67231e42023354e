/// The DNS record types upstream discovery asks for.
public enum DNSRecordType: UInt16, Sendable {
    case a = 1
    case cname = 5
    case aaaa = 28
    case srv = 33
}

/// Why a lookup gave no usable answer.
public enum DNSError: Error, Equatable, Sendable, CustomStringConvertible {
    case badName(String)
    case malformed(String)
    /// The id or the question differ from the query's: not an answer to it (possibly spoofed).
    case mismatched
    /// NXDOMAIN.
    case nameError
    /// SERVFAIL, REFUSED and the other failure codes.
    case serverFailure(Int)
    case timeout
    /// NOERROR, but no record of the type asked for.
    case noAnswer

    public var description: String {
        switch self {
        case .badName(let name): "not a DNS name: '\(name)'"
        case .malformed(let why): "malformed answer: \(why)"
        case .mismatched: "an answer to another query"
        case .nameError: "no such name (NXDOMAIN)"
        case .serverFailure(let code): "the DNS server failed (rcode \(code))"
        case .timeout: "no answer in time"
        case .noAnswer: "no records of that type"
        }
    }
}

/// An SRV record, with its target's addresses when the answer carried them.
public struct DNSService: Sendable, Equatable, Hashable {
    public var priority: UInt16
    public var weight: UInt16
    public var port: UInt16
    public var target: String
    public var addresses: [String]

    public init(priority: UInt16, weight: UInt16, port: UInt16, target: String, addresses: [String] = []) {
        self.priority = priority
        self.weight = weight
        self.port = port
        self.target = target
        self.addresses = addresses
    }
}

/// What an answer said about the question.
public struct DNSAnswer: Sendable, Equatable {
    /// A and AAAA records as text (`10.0.0.1`, `fd00::1`).
    public var addresses: [String] = []
    public var services: [DNSService] = []
    /// The smallest TTL of the records used.
    public var ttl: UInt32?
    public var truncated = false
    public var responseCode = 0

    public init(addresses: [String] = [], services: [DNSService] = [], ttl: UInt32? = nil) {
        self.addresses = addresses
        self.services = services
        self.ttl = ttl
    }
}

/// DNS messages (RFC 1035): one question out, the records of an answer in. Parsing never traps on hostile input:
/// every read is bounds-checked, compression pointers only point backwards (and are counted), names are at most
/// 255 bytes.
public enum DNSMessage {
    /// A query for `name` (recursion desired).
    public static func query(id: UInt16, name: String, type: DNSRecordType) throws(DNSError) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xFF), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]
        bytes += try encode(name)
        bytes += [UInt8(type.rawValue >> 8), UInt8(type.rawValue & 0xFF), 0, 1]
        return bytes
    }

    /// `users.internal` as labels.
    static func encode(_ name: String) throws(DNSError) -> [UInt8] {
        var bytes: [UInt8] = []
        let trimmed = name.hasSuffix(".") ? String(name.dropLast()) : name
        guard !trimmed.isEmpty, trimmed.utf8.count <= 253 else { throw .badName(name) }
        for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
            let utf8 = Array(label.utf8)
            guard !utf8.isEmpty, utf8.count <= 63,
                utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F })
            else { throw .badName(name) }
            bytes.append(UInt8(utf8.count))
            bytes += utf8
        }
        bytes.append(0)
        return bytes
    }

    /// The answer to the query `id` for `name` and `type`.
    public static func parse(_ bytes: [UInt8], id: UInt16, name: String, type: DNSRecordType) throws(DNSError) -> DNSAnswer {
        var reader = Reader(bytes: bytes)
        let answerID = try reader.u16()
        let flags = try reader.u16()
        let questions = try reader.u16()
        let answers = try reader.u16()
        let authorities = try reader.u16()
        let additionals = try reader.u16()
        guard answerID == id, flags & 0x8000 != 0, (flags >> 11) & 0xF == 0, questions == 1 else { throw .mismatched }
        let asked = try reader.name()
        let askedType = try reader.u16()
        let askedClass = try reader.u16()
        guard asked == canonical(name), askedType == type.rawValue, askedClass == 1 else { throw .mismatched }
        var answer = DNSAnswer()
        answer.truncated = flags & 0x0200 != 0
        answer.responseCode = Int(flags & 0xF)
        switch answer.responseCode {
        case 0: break
        case 3: throw .nameError
        default: throw .serverFailure(answer.responseCode)
        }
        if answer.truncated { return answer }
        struct Record {
            let owner: String
            let type: UInt16
            let ttl: UInt32
            let data: Range<Int>
        }
        var records: [Record] = []
        var extra: [Record] = []
        for section in 0..<3 {
            let count = [answers, authorities, additionals][section]
            for _ in 0..<count {
                let owner = try reader.name()
                let recordType = try reader.u16()
                let recordClass = try reader.u16()
                let ttl = try reader.u32()
                let length = Int(try reader.u16())
                let start = reader.offset
                try reader.skip(length)
                guard recordClass == 1 else { continue }
                let record = Record(owner: owner, type: recordType, ttl: ttl, data: start..<(start + length))
                if section == 0 { records.append(record) } else if section == 2 { extra.append(record) }
            }
        }
        // Follow CNAMEs within the answer from the name asked.
        var owners: Set<String> = [asked]
        var changed = true
        var hops = 0
        while changed && hops < 16 {
            changed = false
            hops += 1
            for record in records where record.type == DNSRecordType.cname.rawValue && owners.contains(record.owner) {
                var data = Reader(bytes: bytes, offset: record.data.lowerBound)
                let target = try data.name()
                guard data.offset <= record.data.upperBound else { throw .malformed("a CNAME overruns its length") }
                if owners.insert(target).inserted { changed = true }
            }
        }
        func note(_ ttl: UInt32) { answer.ttl = min(answer.ttl ?? ttl, ttl) }
        // An alias lives no longer than its CNAME record says.
        for record in records where record.type == DNSRecordType.cname.rawValue && owners.contains(record.owner) {
            note(record.ttl)
        }
        for record in records where owners.contains(record.owner) && record.type == type.rawValue {
            switch type {
            case .a, .aaaa:
                guard record.data.count == (type == .a ? 4 : 16), let address = address(bytes[record.data]) else {
                    throw .malformed("an address of \(record.data.count) bytes in a \(type == .a ? "A" : "AAAA") record")
                }
                answer.addresses.append(address)
                note(record.ttl)
            case .srv:
                var data = Reader(bytes: bytes, offset: record.data.lowerBound)
                let priority = try data.u16()
                let weight = try data.u16()
                let port = try data.u16()
                let target = try data.name()
                guard data.offset <= record.data.upperBound else { throw .malformed("SRV record overruns its length") }
                var service = DNSService(priority: priority, weight: weight, port: port, target: target)
                for added in extra where added.owner == target && (added.type == 1 || added.type == 28) {
                    if added.data.count == (added.type == 1 ? 4 : 16), let address = address(bytes[added.data]) {
                        service.addresses.append(address)
                        note(added.ttl)
                    }
                }
                answer.services.append(service)
                note(record.ttl)
            case .cname:
                break
            }
        }
        if answer.addresses.isEmpty && answer.services.isEmpty { throw .noAnswer }
        return answer
    }

    /// Lowercased, without the final dot.
    static func canonical(_ name: String) -> String {
        (name.hasSuffix(".") ? String(name.dropLast()) : name).lowercased()
    }

    /// 4 bytes as IPv4 text, 16 as IPv6 text.
    static func address(_ bytes: ArraySlice<UInt8>) -> String? {
        let bytes = Array(bytes)
        if bytes.count == 4 { return bytes.map(String.init).joined(separator: ".") }
        guard bytes.count == 16 else { return nil }
        var groups: [UInt16] = []
        for index in stride(from: 0, to: 16, by: 2) { groups.append(UInt16(bytes[index]) << 8 | UInt16(bytes[index + 1])) }
        // The longest run of zero groups (two or more) becomes "::" (RFC 5952).
        var best = (start: -1, length: 0)
        var index = 0
        while index < 8 {
            if groups[index] == 0 {
                var end = index
                while end < 8 && groups[end] == 0 { end += 1 }
                if end - index > best.length { best = (index, end - index) }
                index = end
            } else {
                index += 1
            }
        }
        func hex(_ range: Range<Int>) -> String { groups[range].map { String($0, radix: 16) }.joined(separator: ":") }
        guard best.length >= 2 else { return hex(0..<8) }
        return hex(0..<best.start) + "::" + hex((best.start + best.length)..<8)
    }
}

/// Bounds-checked reading of a DNS message.
struct Reader {
    let bytes: [UInt8]
    var offset: Int

    init(bytes: [UInt8], offset: Int = 0) {
        self.bytes = bytes
        self.offset = offset
    }

    mutating func u16() throws(DNSError) -> UInt16 {
        guard offset + 2 <= bytes.count else { throw .malformed("truncated at byte \(offset)") }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(DNSError) -> UInt32 {
        let high = UInt32(try u16())
        return high << 16 | UInt32(try u16())
    }

    mutating func skip(_ count: Int) throws(DNSError) {
        guard count >= 0, offset + count <= bytes.count else { throw .malformed("a record runs past the end") }
        offset += count
    }

    /// A name, following compression pointers (backwards only, at most 64), lowercased, without the final dot.
    mutating func name() throws(DNSError) -> String {
        var labels: [String] = []
        var position = offset
        var jumped = false
        var jumps = 0
        var length = 1  // the final zero byte counts against the 255
        while true {
            guard position < bytes.count else { throw .malformed("a name runs past the end") }
            let byte = bytes[position]
            if byte & 0xC0 == 0xC0 {
                guard position + 1 < bytes.count else { throw .malformed("a pointer runs past the end") }
                let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < position, jumps < 64 else { throw .malformed("a compression pointer loops") }
                if !jumped { offset = position + 2 }
                jumped = true
                jumps += 1
                position = target
                continue
            }
            guard byte & 0xC0 == 0 else { throw .malformed("an unknown label type") }
            if byte == 0 {
                if !jumped { offset = position + 1 }
                break
            }
            let count = Int(byte)
            guard position + 1 + count <= bytes.count else { throw .malformed("a label runs past the end") }
            length += count + 1
            guard length <= 255 else { throw .malformed("a name longer than 255 bytes") }
            labels.append(String(decoding: bytes[(position + 1)...(position + count)], as: UTF8.self).lowercased())
            position += 1 + count
        }
        return labels.joined(separator: ".")
    }
}
