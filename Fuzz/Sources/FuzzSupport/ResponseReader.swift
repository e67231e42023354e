import NIOHTTP1

/// One response read off the wire.
public struct WireResponse: Sendable, CustomStringConvertible {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    public var closeDelimited = false

    public var isInformational: Bool { status < 200 }

    public func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name }.map(\.value)
    }

    public var saysClose: Bool {
        values("connection").contains { $0.split(separator: ",").contains { $0.trimmingSpaces().lowercased() == "close" } }
    }

    public var description: String { "\(status) \(headers.map { "\($0.name): \($0.value)" }) body \(body.count)B" }
}

/// A strict reader of what a server wrote: a sequence of HTTP/1.1 responses, each well-formed and framed as RFC 9112
/// §6.3 says for the request it answers. Anything else is a failure with a reason.
public enum ResponseReader {
    public struct Failure: Error, CustomStringConvertible {
        public var reason: String
        public var offset: Int
        public var description: String { "\(reason) at byte \(offset)" }
    }

    /// Reads `bytes`. `method(i)` is the method of the request the i-th final response answers; `closed` says the
    /// server closed the connection after the last byte (a close-delimited body needs it).
    public static func read(_ bytes: [UInt8], method: (Int) -> HTTPMethod, closed: Bool) -> Result<[WireResponse], Failure> {
        var reader = Reader(bytes: bytes)
        var responses: [WireResponse] = []
        var finals = 0
        do {
            while !reader.atEnd {
                if let last = responses.last, !last.isInformational, last.saysClose {
                    throw Failure(reason: "bytes after a response that said Connection: close", offset: reader.offset)
                }
                let response = try reader.response(method: method(finals), closed: closed)
                if !response.isInformational { finals += 1 }
                responses.append(response)
            }
        } catch let failure as Failure {
            return .failure(failure)
        } catch {
            return .failure(Failure(reason: "\(error)", offset: reader.offset))
        }
        return .success(responses)
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        var atEnd: Bool { offset >= bytes.count }

        func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: offset) }

        /// A line up to CRLF (a bare LF or CR is a failure), without the CRLF.
        mutating func line() throws(Failure) -> ArraySlice<UInt8> {
            var index = offset
            while index < bytes.count {
                switch bytes[index] {
                case 13:
                    guard index + 1 < bytes.count else { throw fail("truncated line") }
                    guard bytes[index + 1] == 10 else { throw fail("a CR without LF") }
                    let line = bytes[offset..<index]
                    offset = index + 2
                    return line
                case 10:
                    throw fail("a bare LF")
                case 0:
                    throw fail("a NUL in a line")
                default:
                    index += 1
                }
            }
            throw fail("truncated line")
        }

        mutating func response(method: HTTPMethod, closed: Bool) throws(Failure) -> WireResponse {
            let statusLine = Array(try line())
            guard statusLine.count >= 12, statusLine.starts(with: Array("HTTP/1.".utf8)),
                statusLine[7] == UInt8(ascii: "1") || statusLine[7] == UInt8(ascii: "0"), statusLine[8] == UInt8(ascii: " "),
                statusLine[9...11].allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                statusLine.count == 12 || statusLine[12] == UInt8(ascii: " ")
            else { throw fail("bad status line \(String(decoding: statusLine, as: UTF8.self).debugDescription)") }
            let status = Int(String(decoding: statusLine[9...11], as: UTF8.self))!
            guard (100...599).contains(status) else { throw fail("status \(status)") }
            var headers: [(name: String, value: String)] = []
            while true {
                let field = try line()
                if field.isEmpty { break }
                guard let colon = field.firstIndex(of: UInt8(ascii: ":")), colon > field.startIndex,
                    field[..<colon].allSatisfy(isTokenByte)
                else { throw fail("bad header line \(String(decoding: field, as: UTF8.self).debugDescription)") }
                let value = field[(colon + 1)...]
                guard value.allSatisfy({ $0 == 9 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw fail("control byte in a header value") }
                headers.append((String(decoding: field[..<colon], as: UTF8.self), String(decoding: value, as: UTF8.self).trimmingCharacters()))
            }
            var response = WireResponse(status: status, headers: headers, body: [])
            if status == 101 { throw fail("101 Switching Protocols from a server that does not switch") }
            if response.isInformational {
                if !response.values("content-length").isEmpty || !response.values("transfer-encoding").isEmpty {
                    throw fail("framing fields on a \(status)")
                }
                return response
            }
            let lengths = response.values("content-length")
            let codings = response.values("transfer-encoding")
            if !lengths.isEmpty && !codings.isEmpty { throw fail("both Content-Length and Transfer-Encoding") }
            if Set(lengths).count > 1 { throw fail("Content-Lengths disagree: \(lengths)") }
            if status == 204 && !lengths.isEmpty && lengths != ["0"] { throw fail("204 with Content-Length \(lengths)") }
            if (status == 204 || status == 304) && !codings.isEmpty { throw fail("\(status) with Transfer-Encoding") }
            let noBody = method == .HEAD || status == 204 || status == 304
            if !codings.isEmpty {
                let tokens = codings.flatMap { $0.split(separator: ",").map { $0.trimmingSpaces().lowercased() } }
                guard tokens.last == "chunked" else { throw fail("Transfer-Encoding \(codings) without chunked last") }
                if noBody { return response }
                response.body = try chunkedBody()
                return response
            }
            if let length = lengths.first {
                guard !length.isEmpty, length.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }),
                    length.utf8.count <= 18, let count = Int(length)
                else { throw fail("bad Content-Length \(length.debugDescription)") }
                if noBody { return response }
                guard bytes.count - offset >= count else { throw fail("body shorter than Content-Length \(count)") }
                response.body = Array(bytes[offset..<(offset + count)])
                offset += count
                return response
            }
            if noBody { return response }
            // Close-delimited: the rest, and the connection must end there.
            guard closed else { throw fail("a response without framing on a connection left open") }
            response.body = Array(bytes[offset...])
            response.closeDelimited = true
            offset = bytes.count
            return response
        }

        mutating func chunkedBody() throws(Failure) -> [UInt8] {
            var body: [UInt8] = []
            while true {
                let sizeLine = try line()
                let digits = sizeLine.prefix { isHex($0) }
                guard !digits.isEmpty, digits.count <= 15 else { throw fail("bad chunk size line") }
                let rest = sizeLine.dropFirst(digits.count)
                guard rest.isEmpty || rest.first == UInt8(ascii: ";") || rest.first == UInt8(ascii: " ") || rest.first == 9 else {
                    throw fail("bad chunk size line")
                }
                let size = Int(String(decoding: digits, as: UTF8.self), radix: 16)!
                if size == 0 {
                    while true {
                        let trailer = try line()
                        if trailer.isEmpty { return body }
                    }
                }
                guard bytes.count - offset >= size + 2 else { throw fail("truncated chunk") }
                body += bytes[offset..<(offset + size)]
                offset += size
                guard bytes[offset] == 13, bytes[offset + 1] == 10 else { throw fail("chunk not followed by CRLF") }
                offset += 2
            }
        }
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default:
            Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    static func isHex(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }
}

extension String {
    func trimmingCharacters() -> String {
        String(self[...].trimmingSpaces())
    }
}

/// Bytes as a readable string, for failure messages.
public func escaped(_ bytes: some Sequence<UInt8>) -> String {
    var out = ""
    for byte in bytes {
        switch byte {
        case 13: out += "\\r"
        case 10: out += "\\n"
        case 0x20..<0x7F where byte != UInt8(ascii: "\\"): out.append(Character(Unicode.Scalar(byte)))
        default: out += "\\x" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
        }
    }
    return out
}
