import Foundation
import NIOCore

/// Decodes a `Decodable` value straight from a JSON body's bytes: the document is checked and listed in one pass
/// (`JSONScanner`), then each value the type asks for is read from the bytes where it lies. No tree of values, and
/// no string is made for a key: keys are compared as bytes.
///
/// It behaves as Foundation's `JSONDecoder` with default strategies: the same `DecodingError`s, with the same coding
/// paths (so `BindingError` says the same), an absent key and `null` both nil for optionals, integers from numbers
/// with no fraction left (`2.0` is 2, `2.5` is an error), `Data` from base64, `URL` from a string, the first of
/// duplicated keys. One difference: a number too large for its field (or with a fraction, for an integer) names
/// the field, where Foundation's error has no path and reads as a malformed body. Foundation's decoder was a seventh of the CPU time of a small JSON-binding request.
enum JSONBodyDecoder {
    static func decode<T: Decodable>(_ type: T.Type, from body: ByteBuffer) throws -> T {
        let document = JSONDocument(bytes: Array(body.readableBytesView))
        do {
            try document.scan()
        } catch {
            throw DecodingError.dataCorrupted(
                .init(codingPath: [], debugDescription: "The given data was not valid JSON (at byte \(error.offset))."))
        }
        return try document.decode(T.self, at: 0, path: [])
    }
}

/// A scanned document: its bytes and tokens, shared by the decoders and containers of one decoding.
final class JSONDocument {
    let bytes: [UInt8]
    private(set) var tokens: [JSONToken] = []

    init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    func scan() throws(JSONScanner.SyntaxError) {
        tokens = try bytes.withUnsafeBufferPointer { bytes throws(JSONScanner.SyntaxError) in
            try JSONScanner.scan(bytes)
        }
    }

    /// The `null` token after the document: what a missing value reads as.
    var absent: Int { tokens.count - 1 }

    // MARK: Values

    func decode<T: Decodable>(_ type: T.Type, at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> T {
        if T.self == String.self { return try string(at: index, path: path()) as! T }
        if T.self == Int.self { return try integer(Int.self, at: index, path: path()) as! T }
        if T.self == Bool.self { return try bool(at: index, path: path()) as! T }
        if T.self == Double.self { return try float(Double.self, at: index, path: path()) as! T }
        if T.self == URL.self {
            let text = try string(at: index, path: path())
            guard let url = URL(string: text) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Invalid URL string."))
            }
            return url as! T
        }
        if T.self == Data.self {
            guard let data = Data(base64Encoded: try string(at: index, path: path())) else {
                throw DecodingError.dataCorrupted(
                    .init(codingPath: path(), debugDescription: "Encountered Data is not valid Base64."))
            }
            return data as! T
        }
        if T.self == Decimal.self {
            try expect(.number, Decimal.self, at: index, path: path())
            guard let decimal = Decimal(string: text(at: index), locale: Locale(identifier: "en_US_POSIX")) else {
                throw DecodingError.dataCorrupted(.init(codingPath: path(), debugDescription: "Invalid decimal number."))
            }
            return decimal as! T
        }
        return try T(from: JSONBodyDecoding(document: self, index: index, codingPath: path()))
    }

    func isNull(_ index: Int) -> Bool { tokens[index].kind == .null }

    /// Throws the error for a value of another kind than `kind` (`valueNotFound` for null, as Foundation does). The
    /// paths here are built only for an error: a value that decodes costs no array for its path.
    @inline(__always)
    func expect(_ kind: JSONToken.Kind, _ type: Any.Type, at index: Int, path: @autoclosure () -> [any CodingKey]) throws {
        let found = tokens[index].kind
        if found == kind { return }
        if kind == .true && found == .false { return }
        throw mismatch(type, found: found, path: path())
    }

    func mismatch(_ type: Any.Type, found: JSONToken.Kind, path: [any CodingKey]) -> DecodingError {
        if found == .null {
            return .valueNotFound(
                type, .init(codingPath: path, debugDescription: "Cannot get value of type \(type) -- found null value instead"))
        }
        return .typeMismatch(
            type, .init(codingPath: path, debugDescription: "Expected to decode \(type) but found \(found.noun) instead."))
    }

    func bool(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> Bool {
        try expect(.true, Bool.self, at: index, path: path())
        return tokens[index].kind == .true
    }

    /// A number's text, as written.
    func text(at index: Int) -> String {
        let token = tokens[index]
        return String(decoding: bytes[token.start..<token.end], as: UTF8.self)
    }

    func integer<I: FixedWidthInteger>(
        _ type: I.Type, at index: Int, path: @autoclosure () -> [any CodingKey]
    ) throws -> I {
        try expect(.number, type, at: index, path: path())
        let token = tokens[index]
        if token.flags & JSONToken.fractional == 0 {
            var position = token.start
            let negative = bytes[position] == UInt8(ascii: "-")
            if negative { position += 1 }
            var value: I = 0
            var overflow = false
            while position < token.end, !overflow {
                let digit = I(bytes[position] &- UInt8(ascii: "0"))
                (value, overflow) = value.multipliedReportingOverflow(by: 10)
                if !overflow {
                    (value, overflow) =
                        negative ? value.subtractingReportingOverflow(digit) : value.addingReportingOverflow(digit)
                }
                position += 1
            }
            if !overflow { return value }
        } else if let double = Double(text(at: index)), let value = I(exactly: double) {
            return value
        }
        throw DecodingError.dataCorrupted(
            .init(codingPath: path(), debugDescription: "Parsed JSON number <\(text(at: index))> does not fit in \(type)."))
    }

    func float<F: BinaryFloatingPoint & LosslessStringConvertible>(
        _ type: F.Type, at index: Int, path: @autoclosure () -> [any CodingKey]
    ) throws -> F {
        try expect(.number, type, at: index, path: path())
        guard let value = F(text(at: index)), value.isFinite else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: path(), debugDescription: "Parsed JSON number <\(text(at: index))> does not fit in \(type)."))
        }
        return value
    }

    func string(at index: Int, path: @autoclosure () -> [any CodingKey]) throws -> String {
        try expect(.string, String.self, at: index, path: path())
        let token = tokens[index]
        if token.flags == 0 { return String(decoding: bytes[token.start..<token.end], as: UTF8.self) }
        guard let text = unescaped(token) else {
            throw DecodingError.dataCorrupted(
                .init(codingPath: path(), debugDescription: "The string is not valid UTF-8 or has an invalid \\u escape."))
        }
        return text
    }

    /// A string token with escapes or bytes past ASCII: nil for invalid UTF-8 or a lone surrogate.
    func unescaped(_ token: JSONToken) -> String? {
        if token.flags & JSONToken.escaped == 0 {
            return String(validating: bytes[token.start..<token.end], as: UTF8.self)
        }
        var out: [UInt8] = []
        out.reserveCapacity(token.end - token.start)
        var position = token.start
        while position < token.end {
            let byte = bytes[position]
            guard byte == UInt8(ascii: "\\") else {
                out.append(byte)
                position += 1
                continue
            }
            let escape = bytes[position + 1]
            position += 2
            switch escape {
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var code = hex4(at: position)
                position += 4
                if (0xD800..<0xDC00).contains(code) {
                    // A high surrogate: a low one must follow, as another \u escape.
                    guard position + 6 <= token.end, bytes[position] == UInt8(ascii: "\\"),
                        bytes[position + 1] == UInt8(ascii: "u")
                    else { return nil }
                    let low = hex4(at: position + 2)
                    guard (0xDC00..<0xE000).contains(low) else { return nil }
                    code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                    position += 6
                }
                guard let scalar = Unicode.Scalar(code) else { return nil }
                out.append(contentsOf: UTF8.encode(scalar)!)
            default: out.append(escape)  // \" \\ \/
            }
        }
        return String(validating: out, as: UTF8.self)
    }

    private func hex4(at position: Int) -> UInt32 {
        var value: UInt32 = 0
        for offset in 0..<4 { value = value << 4 | UInt32(JSONBytes.hexValue(bytes[position + offset]) ?? 0) }
        return value
    }

    /// Whether the string token at `index` is `key`, byte for byte once unescaped.
    func keyMatches(_ index: Int, _ key: String) -> Bool {
        let token = tokens[index]
        if token.flags & JSONToken.escaped != 0 { return unescaped(token) == key }
        var key = key
        return key.withUTF8 { key in
            guard key.count == token.end - token.start else { return false }
            return bytes.withUnsafeBufferPointer { bytes in
                memcmp(bytes.baseAddress! + token.start, key.baseAddress!, key.count) == 0
            }
        }
    }

    /// The value of `key` in the object at `object` (the first, if the key is there twice, as Foundation's).
    func member(_ key: String, of object: Int) -> Int? {
        var index = object + 1
        let end = tokens[object].next
        while index < end {
            if keyMatches(index, key) { return index + 1 }
            index = tokens[index + 1].next
        }
        return nil
    }

    /// The object's keys in order, unescaped.
    func keys(of object: Int) -> [String] {
        var keys: [String] = []
        var index = object + 1
        let end = tokens[object].next
        while index < end {
            keys.append((try? string(at: index, path: [])) ?? "")
            index = tokens[index + 1].next
        }
        return keys
    }
}

/// A key in a coding path for an array element, as Foundation names it (`Index 2`).
struct JSONIndexKey: CodingKey {
    let intValue: Int?
    let stringValue: String
    init(_ index: Int) {
        intValue = index
        stringValue = "Index \(index)"
    }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.init(intValue) }
}
