/// One JSON value in a scanned document (`JSONScanner`). Containers are followed by their contents: an object by
/// key and value tokens in turn, an array by its elements; `next` skips a value with everything inside it.
struct JSONToken {
    enum Kind: UInt8 {
        case object, array, string, number, `true`, `false`, null

        /// How a decoding error names what it found.
        var noun: String {
            switch self {
            case .object: "an object"
            case .array: "an array"
            case .string: "a string"
            case .number: "a number"
            case .true, .false: "a boolean"
            case .null: "null"
            }
        }
    }

    var kind: Kind
    /// A string: it has escapes (`escaped`) or bytes past ASCII (`nonASCII`). A number: it has a fraction or an
    /// exponent (`fractional`).
    var flags: UInt8
    /// A string: the first byte after its opening quote. A number: its first byte.
    var start: Int
    /// A string: its closing quote. A number: the byte after it. A container: how many members or elements it has.
    var end: Int
    /// The index of the token after this value and everything inside it.
    var next: Int

    static let escaped: UInt8 = 1
    static let nonASCII: UInt8 = 2
    static let fractional: UInt8 = 1
}

/// Checks a JSON document (RFC 8259) in one pass and lists its values as tokens, without building strings,
/// numbers or collections: `JSONBodyDecoder` reads only the values its type asks for, from the bytes.
///
/// Strict where the RFC is: no leading zeros, no control characters in strings, no trailing commas or bytes after
/// the value, escapes that are one of the nine. Nesting deeper than `maxDepth` is refused (as Foundation's decoder
/// does at 512), so a hostile body cannot exhaust the stack.
struct JSONScanner {
    struct SyntaxError: Error {
        let offset: Int
    }

    static let maxDepth = 512

    private let bytes: UnsafeBufferPointer<UInt8>
    private var position = 0
    private(set) var tokens: [JSONToken] = []

    private init(_ bytes: UnsafeBufferPointer<UInt8>) {
        self.bytes = bytes
        tokens.reserveCapacity(16)
    }

    /// The tokens of the document in `bytes`, then one `null` token (what an absent key's `superDecoder` reads).
    static func scan(_ bytes: UnsafeBufferPointer<UInt8>) throws(SyntaxError) -> [JSONToken] {
        var scanner = JSONScanner(bytes)
        scanner.skipWhitespace()
        try scanner.scanValue(depth: 0)
        scanner.skipWhitespace()
        guard scanner.position == bytes.count else { throw SyntaxError(offset: scanner.position) }
        scanner.tokens.append(JSONToken(kind: .null, flags: 0, start: 0, end: 0, next: scanner.tokens.count + 1))
        return scanner.tokens
    }

    @inline(__always)
    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case 0x20, 0x0A, 0x0D, 0x09: position += 1
            default: return
            }
        }
    }

    private mutating func scanValue(depth: Int) throws(SyntaxError) {
        guard position < bytes.count else { throw SyntaxError(offset: position) }
        switch bytes[position] {
        case UInt8(ascii: "{"): try scanContainer(.object, depth: depth + 1)
        case UInt8(ascii: "["): try scanContainer(.array, depth: depth + 1)
        case UInt8(ascii: "\""): try scanString()
        case UInt8(ascii: "t"): try scanLiteral("true", .true)
        case UInt8(ascii: "f"): try scanLiteral("false", .false)
        case UInt8(ascii: "n"): try scanLiteral("null", .null)
        default: try scanNumber()
        }
    }

    /// An object (`{` key `:` value, …`}`) or an array (`[` value, …`]`) from its opening bracket.
    private mutating func scanContainer(_ kind: JSONToken.Kind, depth: Int) throws(SyntaxError) {
        guard depth <= Self.maxDepth else { throw SyntaxError(offset: position) }
        let object = kind == .object
        let close = object ? UInt8(ascii: "}") : UInt8(ascii: "]")
        let index = tokens.count
        tokens.append(JSONToken(kind: kind, flags: 0, start: position, end: 0, next: 0))
        position += 1
        skipWhitespace()
        var count = 0
        if position < bytes.count, bytes[position] == close {
            position += 1
        } else {
            while true {
                if object { try scanKey() }
                try scanValue(depth: depth)
                count += 1
                skipWhitespace()
                guard position < bytes.count else { throw SyntaxError(offset: position) }
                if bytes[position] == UInt8(ascii: ",") {
                    position += 1
                    skipWhitespace()
                } else if bytes[position] == close {
                    position += 1
                    break
                } else {
                    throw SyntaxError(offset: position)
                }
            }
        }
        tokens[index].end = count
        tokens[index].next = tokens.count
    }

    /// A member's key and the colon after it, up to its value.
    private mutating func scanKey() throws(SyntaxError) {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else { throw SyntaxError(offset: position) }
        try scanString()
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else { throw SyntaxError(offset: position) }
        position += 1
        skipWhitespace()
    }

    /// A string from its opening quote: control characters are refused, escapes are checked (`\u` needs four hex
    /// digits; whether they make a valid scalar is checked when the string is read).
    private mutating func scanString() throws(SyntaxError) {
        position += 1
        let start = position
        var flags: UInt8 = 0
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                tokens.append(JSONToken(kind: .string, flags: flags, start: start, end: position, next: tokens.count + 1))
                position += 1
                return
            }
            if byte < 0x20 { throw SyntaxError(offset: position) }
            if byte >= 0x80 { flags |= JSONToken.nonASCII }
            if byte == UInt8(ascii: "\\") {
                flags |= JSONToken.escaped
                position += 1
                guard position < bytes.count else { break }
                switch bytes[position] {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                    UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                    break
                case UInt8(ascii: "u"):
                    guard position + 4 < bytes.count else { throw SyntaxError(offset: position) }
                    for offset in 1...4 where JSONBytes.hexValue(bytes[position + offset]) == nil {
                        throw SyntaxError(offset: position + offset)
                    }
                    position += 4
                default:
                    throw SyntaxError(offset: position)
                }
            }
            position += 1
        }
        throw SyntaxError(offset: position)
    }

    private mutating func scanLiteral(_ literal: StaticString, _ kind: JSONToken.Kind) throws(SyntaxError) {
        let count = literal.utf8CodeUnitCount
        guard position + count <= bytes.count else { throw SyntaxError(offset: position) }
        for offset in 0..<count where bytes[position + offset] != literal.utf8Start[offset] {
            throw SyntaxError(offset: position + offset)
        }
        tokens.append(JSONToken(kind: kind, flags: 0, start: position, end: position + count, next: tokens.count + 1))
        position += count
    }

    /// `-? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?`
    private mutating func scanNumber() throws(SyntaxError) {
        let start = position
        var flags: UInt8 = 0
        if bytes[position] == UInt8(ascii: "-") { position += 1 }
        guard position < bytes.count, JSONBytes.isDigit(bytes[position]) else { throw SyntaxError(offset: position) }
        if bytes[position] == UInt8(ascii: "0") {
            position += 1
        } else {
            skipDigits()
        }
        if position < bytes.count, bytes[position] == UInt8(ascii: ".") {
            flags = JSONToken.fractional
            position += 1
            guard position < bytes.count, JSONBytes.isDigit(bytes[position]) else { throw SyntaxError(offset: position) }
            skipDigits()
        }
        if position < bytes.count, bytes[position] | 0x20 == UInt8(ascii: "e") {
            flags = JSONToken.fractional
            position += 1
            if position < bytes.count, bytes[position] == UInt8(ascii: "+") || bytes[position] == UInt8(ascii: "-") {
                position += 1
            }
            guard position < bytes.count, JSONBytes.isDigit(bytes[position]) else { throw SyntaxError(offset: position) }
            skipDigits()
        }
        tokens.append(JSONToken(kind: .number, flags: flags, start: start, end: position, next: tokens.count + 1))
    }

    @inline(__always)
    private mutating func skipDigits() {
        while position < bytes.count, JSONBytes.isDigit(bytes[position]) { position += 1 }
    }
}

/// Byte classes shared by the scanner and the decoder.
enum JSONBytes {
    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { byte &- UInt8(ascii: "0") < 10 }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
