public import NIOCore

/// Bytes that are not a RESP2 reply. The connection they came on is out of step and must be closed.
public struct RESPDecodingError: Error, Hashable, CustomStringConvertible {
    public let reason: String

    public init(_ reason: String) { self.reason = reason }

    public var description: String { "malformed RESP: \(reason)" }
}

/// Reads one RESP2 value from a buffer, all or nothing.
///
/// A value split across reads is parsed again from its start when more bytes come: simple, and cheap for the short
/// replies Sluice reads. Every length is bounded before it is used, so hostile input costs at most the limits below
/// and ends in a `RESPDecodingError`, never a trap.
public enum RESPParser {
    /// Longest line (simple string, error, integer, length header) before the reply is rejected.
    public static let maxLineLength = 64 * 1024
    /// Largest bulk string (Redis's own `proto-max-bulk-len` default).
    public static let maxBulkLength = 512 * 1024 * 1024
    /// Most elements an array may declare.
    public static let maxArrayCount = 1 << 24
    /// Deepest nesting of arrays.
    public static let maxDepth = 64

    /// Parses one value at the front of `buffer` and consumes it; returns nil, consuming nothing, when the value is
    /// not complete yet.
    public static func parse(_ buffer: inout ByteBuffer) throws -> RESPValue? {
        var index = buffer.readerIndex
        guard let value = try parseValue(buffer, at: &index, depth: 0) else { return nil }
        buffer.moveReaderIndex(to: index)
        return value
    }

    private static func parseValue(_ buffer: ByteBuffer, at index: inout Int, depth: Int) throws -> RESPValue? {
        guard let type = buffer.getInteger(at: index, as: UInt8.self) else { return nil }
        var cursor = index + 1
        guard let line = try readLine(buffer, at: &cursor) else { return nil }
        let value: RESPValue
        switch type {
        case UInt8(ascii: "+"):
            value = .simpleString(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: "-"):
            value = .error(String(decoding: line, as: UTF8.self))
        case UInt8(ascii: ":"):
            value = .integer(try parseInteger(line))
        case UInt8(ascii: "$"):
            let length = try parseInteger(line)
            if length == -1 {
                value = .bulkString(nil)
                break
            }
            guard length >= 0, length <= maxBulkLength else { throw RESPDecodingError("bulk length \(length)") }
            // The payload and its CRLF must both be there.
            guard buffer.writerIndex - cursor >= length + 2 else { return nil }
            guard buffer.getInteger(at: cursor + length, as: UInt8.self) == UInt8(ascii: "\r"),
                buffer.getInteger(at: cursor + length + 1, as: UInt8.self) == UInt8(ascii: "\n")
            else { throw RESPDecodingError("bulk string of \(length) bytes not followed by CRLF") }
            value = .bulkString(buffer.getSlice(at: cursor, length: length))
            cursor += length + 2
        case UInt8(ascii: "*"):
            let count = try parseInteger(line)
            if count == -1 {
                value = .bulkString(nil)
                break
            }
            guard count >= 0, count <= maxArrayCount else { throw RESPDecodingError("array count \(count)") }
            guard depth < maxDepth else { throw RESPDecodingError("arrays nested deeper than \(maxDepth)") }
            // No reserveCapacity(count): a hostile count must not allocate before its elements arrive.
            var elements: [RESPValue] = []
            for _ in 0..<count {
                guard let element = try parseValue(buffer, at: &cursor, depth: depth + 1) else { return nil }
                elements.append(element)
            }
            value = .array(elements)
        default:
            throw RESPDecodingError("unknown type byte \(type)")
        }
        index = cursor
        return value
    }

    /// The bytes up to the next CRLF, moving `index` past it; nil when the CRLF has not arrived.
    private static func readLine(_ buffer: ByteBuffer, at index: inout Int) throws -> [UInt8]? {
        let end = buffer.writerIndex
        let searchEnd = min(end, index + maxLineLength + 1)
        var position = index
        while position < searchEnd {
            let byte = buffer.getInteger(at: position, as: UInt8.self)!
            if byte == UInt8(ascii: "\r") {
                guard position + 1 < end else { return nil }
                guard buffer.getInteger(at: position + 1, as: UInt8.self) == UInt8(ascii: "\n") else {
                    throw RESPDecodingError("CR not followed by LF")
                }
                let line = buffer.getBytes(at: index, length: position - index)!
                index = position + 2
                return line
            }
            if byte == UInt8(ascii: "\n") { throw RESPDecodingError("LF without CR") }
            position += 1
        }
        if searchEnd - index > maxLineLength { throw RESPDecodingError("line longer than \(maxLineLength) bytes") }
        return nil
    }

    /// A signed decimal that fits in `Int`.
    private static func parseInteger(_ line: [UInt8]) throws -> Int {
        var digits = line[...]
        let negative = digits.first == UInt8(ascii: "-")
        if negative || digits.first == UInt8(ascii: "+") { digits = digits.dropFirst() }
        guard !digits.isEmpty, digits.count <= 19 else { throw RESPDecodingError("bad integer") }
        var value = 0
        for byte in digits {
            guard byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") else { throw RESPDecodingError("bad integer") }
            let digit = Int(byte - UInt8(ascii: "0"))
            let (times10, overflow1) = value.multipliedReportingOverflow(by: 10)
            // Accumulate negatively so that Int.min parses too.
            let (next, overflow2) = times10.subtractingReportingOverflow(digit)
            guard !overflow1, !overflow2 else { throw RESPDecodingError("integer out of range") }
            value = next
        }
        if negative { return value }
        guard value != Int.min else { throw RESPDecodingError("integer out of range") }
        return -value
    }

    /// Appends `command` as a RESP array of bulk strings (the only form Redis takes commands in).
    public static func encode(_ command: [String], into buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "*"))
        buffer.writeString(String(command.count))
        buffer.writeStaticString("\r\n")
        for argument in command {
            buffer.writeInteger(UInt8(ascii: "$"))
            buffer.writeString(String(argument.utf8.count))
            buffer.writeStaticString("\r\n")
            buffer.writeString(argument)
            buffer.writeStaticString("\r\n")
        }
    }

    /// Appends any value in RESP2 (tests and fakes use it to play the server side).
    public static func encode(_ value: RESPValue, into buffer: inout ByteBuffer) {
        switch value {
        case .simpleString(let text):
            buffer.writeString("+\(text)\r\n")
        case .error(let message):
            buffer.writeString("-\(message)\r\n")
        case .integer(let number):
            buffer.writeString(":\(number)\r\n")
        case .bulkString(nil):
            buffer.writeStaticString("$-1\r\n")
        case .bulkString(var bytes?):
            buffer.writeString("$\(bytes.readableBytes)\r\n")
            buffer.writeBuffer(&bytes)
            buffer.writeStaticString("\r\n")
        case .array(let elements):
            buffer.writeString("*\(elements.count)\r\n")
            for element in elements { encode(element, into: &buffer) }
        }
    }
}

/// Splits the inbound byte stream into RESP2 replies.
public struct RESPReplyDecoder: ByteToMessageDecoder {
    public typealias InboundOut = RESPValue

    public init() {}

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let value = try RESPParser.parse(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(value))
        return .continue
    }

    public mutating func decodeLast(
        context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool
    ) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Writes commands (arrays of strings) as RESP arrays of bulk strings.
public struct RESPCommandEncoder: MessageToByteEncoder {
    public typealias OutboundIn = [String]

    public init() {}

    public func encode(data: [String], out: inout ByteBuffer) throws {
        RESPParser.encode(data, into: &out)
    }
}
