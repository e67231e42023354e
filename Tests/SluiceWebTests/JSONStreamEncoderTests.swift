import NIOCore
import SluiceWeb
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

private func encode(_ value: some Encodable) throws -> String {
    var buffer = ByteBuffer()
    try JSONStreamEncoder().encode(value, into: &buffer)
    return String(buffer: buffer)
}

private struct Inner: Codable, Equatable {
    let name: String
    let tags: [String]
}

private struct Outer: Codable, Equatable {
    let id: Int
    let ratio: Double
    let ok: Bool
    let missing: String?
    let present: String?
    let inner: Inner
    let list: [Inner]
    let matrix: [[Int]]
    let map: [String: Int]
    let empty: [Int]
}

/// Uses nested containers by hand, the way some hand-written `encode(to:)` do.
private struct HandWritten: Encodable {
    enum Keys: String, CodingKey { case a, nested, b, list }
    enum NestedKeys: String, CodingKey { case x, y }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Keys.self)
        try container.encode(1, forKey: .a)
        var nested = container.nestedContainer(keyedBy: NestedKeys.self, forKey: .nested)
        try nested.encode("x", forKey: .x)
        try nested.encode(2.5, forKey: .y)
        try container.encode(true, forKey: .b)
        var list = container.nestedUnkeyedContainer(forKey: .list)
        try list.encode(1)
        var deeper = list.nestedUnkeyedContainer()
        try deeper.encode("z")
        try list.encodeNil()
    }
}

private struct Nothing: Encodable {
    func encode(to encoder: any Encoder) throws {}
}

@Suite struct JSONStreamEncoderTests {
    @Test func roundTripsThroughFoundationsDecoder() throws {
        let value = Outer(
            id: -42, ratio: 0.25, ok: true, missing: nil, present: "here",
            inner: Inner(name: "in", tags: ["a", "b"]), list: [Inner(name: "x", tags: []), Inner(name: "y", tags: ["q"])],
            matrix: [[1, 2], [], [3]], map: ["one": 1, "two": 2], empty: [])
        let json = try encode(value)
        let decoded = try JSONDecoder().decode(Outer.self, from: Data(json.utf8))
        #expect(decoded == value)
        #expect(!json.contains("missing"), "nil optionals are left out, as Foundation does")
    }

    @Test func exactOutputForSimpleValues() throws {
        #expect(try encode(["message": "pong"]) == #"{"message":"pong"}"#)
        #expect(try encode(Inner(name: "n", tags: ["t"])) == #"{"name":"n","tags":["t"]}"#)
        #expect(try encode([1, 2, 3]) == "[1,2,3]")
        #expect(try encode(["a\"b\n": 1]) == #"{"a\"b\n":1}"#, "a key that needs escaping takes the slow path")
        #expect(try encode("plain") == #""plain""#)
        #expect(try encode(3.5) == "3.5")
        #expect(try encode(Optional<Int>.none) == "null")
        #expect(try encode(HandWritten()) == #"{"a":1,"nested":{"x":"x","y":2.5},"b":true,"list":[1,["z"],null]}"#)
        #expect(try encode(Nothing()) == "{}")
    }

    @Test func escapesStrings() throws {
        let text = "quote\" backslash\\ newline\n tab\t bell\u{7} é 😀"
        let json = try encode([text])
        #expect(json == #"["quote\" backslash\\ newline\n tab\t bell\u0007 é 😀"]"#)
        #expect(try JSONDecoder().decode([String].self, from: Data(json.utf8)) == [text])
    }

    @Test func everyByteIsEscapedOrNotAtEveryPlaceOfAWord() throws {
        for length in [1, 7, 8, 9, 16, 17] {
            for place in 0..<length {
                for byte in UInt8(0)...UInt8(127) {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[place] = byte
                    let text = String(decoding: bytes, as: UTF8.self)
                    let json = try encode([text])
                    #expect(try JSONDecoder().decode([String].self, from: Data(json.utf8)) == [text], "byte \(byte) at \(place)")
                    let escaped = byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
                    #expect((json.utf8.count > length + 4) == escaped, "byte \(byte) at \(place) of \(length)")
                }
            }
        }
    }

    @Test func integersAtTheirLimitsAndControlCharacters() throws {
        #expect(try encode([Int.min, Int.max, 0, -7]) == "[-9223372036854775808,9223372036854775807,0,-7]")
        #expect(try encode([UInt64.max]) == "[18446744073709551615]")
        #expect(try encode([Int8.min]) == "[-128]")
        #expect(try encode(["\u{1F}\u{0}"]) == #"["\u001f\u0000"]"#)
        #expect(try encode([-2.0, 1.5]) == "[-2,1.5]")
    }

    @Test func rejectsNonFiniteNumbers() {
        #expect(throws: EncodingError.self) { try encode([Double.nan]) }
        #expect(throws: EncodingError.self) { try encode(["x": Double.infinity]) }
    }
}
