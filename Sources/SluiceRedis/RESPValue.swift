public import NIOCore

/// One RESP2 value: what Redis replies with (and, as an array of bulk strings, what a command is).
///
/// RESP2 has two "null" spellings, the null bulk string (`$-1`) and the null array (`*-1`); both decode to
/// `.bulkString(nil)`, since no reply Sluice reads needs to tell them apart.
public enum RESPValue: Sendable, Hashable {
    case simpleString(String)
    case error(String)
    case integer(Int)
    /// A binary-safe string; `nil` is the RESP null.
    case bulkString(ByteBuffer?)
    case array([RESPValue])

    /// A bulk string holding `text` in UTF-8.
    public static func bulkString(_ text: String) -> RESPValue {
        .bulkString(ByteBuffer(string: text))
    }

    /// The text of a simple or bulk string (bulk bytes read as UTF-8), else nil.
    public var string: String? {
        switch self {
        case .simpleString(let text): text
        case .bulkString(let buffer?): String(buffer: buffer)
        default: nil
        }
    }

    /// The value of an integer reply, or of a string reply that spells a decimal integer.
    public var int: Int? {
        switch self {
        case .integer(let value): value
        case .simpleString, .bulkString: string.flatMap { Int($0) }
        default: nil
        }
    }

    /// Whether this is the RESP null.
    public var isNull: Bool {
        if case .bulkString(nil) = self { return true }
        return false
    }

    /// The elements of an array reply, else nil.
    public var array: [RESPValue]? {
        if case .array(let values) = self { return values }
        return nil
    }
}

extension RESPValue: CustomStringConvertible {
    public var description: String {
        switch self {
        case .simpleString(let text): "+\(text)"
        case .error(let message): "-\(message)"
        case .integer(let value): ":\(value)"
        case .bulkString(nil): "(nil)"
        case .bulkString(let buffer?): "\"\(String(buffer: buffer))\""
        case .array(let values): "[" + values.map(\.description).joined(separator: ", ") + "]"
        }
    }
}
