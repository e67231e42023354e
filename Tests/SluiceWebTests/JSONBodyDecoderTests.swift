import Foundation
import NIOCore
import Testing

@testable import SluiceWeb

private struct Order: Codable, Equatable {
    struct Line: Codable, Equatable {
        let sku: String
        let count: Int
        let price: Double?
    }
    enum State: String, Codable { case open, paid }
    let id: Int64
    let customer: String
    let lines: [Line]
    let state: State
    let note: String?
    let gift: Bool?
    let tags: [String: Int]?
    let small: UInt8?
    let ratio: Float?
    let matrix: [[Int]]?
}

private struct Blob: Codable, Equatable {
    let data: Data
    let link: URL
    let amount: Decimal
    let when: Date
}

/// `JSONBodyDecoder` against Foundation's `JSONDecoder`: the same values, and errors that `BindingError` reads the
/// same way.
@Suite struct JSONBodyDecoderTests {
    /// Decodes `json` both ways: equal values, or the same `BindingError` message.
    private func agree<T: Decodable & Equatable>(_ type: T.Type, _ json: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let ours = Result { try JSONBodyDecoder.decode(T.self, from: ByteBuffer(string: json)) }
        let theirs = Result { try JSONDecoder().decode(T.self, from: Data(json.utf8)) }
        switch (ours, theirs) {
        case (.success(let a), .success(let b)):
            #expect(a == b, "\(json)", sourceLocation: sourceLocation)
        case (.failure(let a), .failure(let b)):
            let ourMessage = BindingError.from(a).description
            let theirMessage = BindingError.from(b).description
            #expect(ourMessage == theirMessage, "\(json)", sourceLocation: sourceLocation)
        default:
            Issue.record("\(json): ours \(ours), Foundation's \(theirs)", sourceLocation: sourceLocation)
        }
    }

    @Test func valuesDecodeAsFoundationDecodesThem() {
        let order = #"""
            {"id": 9007199254740993, "customer": "Ada \"the\" Countess \u00e9\ud83d\ude00\/\n", "state": "paid",
             "lines": [{"sku": "a-1", "count": 2, "price": 1.5}, {"sku": "b", "count": 0, "price": null}],
             "note": null, "gift": true, "tags": {"x": 1, "y": -2}, "small": 255, "ratio": 0.25,
             "matrix": [[1, 2], [], [3]], "ignored": {"deep": [1, {"a": null}]}}
            """#
        agree(Order.self, order)
        agree(Order.self, #"{"id":1,"customer":"","lines":[],"state":"open"}"#)
        agree(Order.self, #"{"id":2.0,"customer":"x","lines":[],"state":"open","ratio":1e-2}"#)
        agree(Order.self, #"{"id":1,"customer":"first","customer":"last","lines":[],"state":"open"}"#)
        agree(Order.self, " \r\n\t{\"id\":1,\"customer\":\"é\",\"lines\":[],\"state\":\"open\"} \n")
        agree([Int].self, "[1, -0, 3]")
        agree([String: [Bool]].self, #"{"a": [true, false], "b": []}"#)
        agree(String.self, #""top-level scalars are JSON too""#)
        agree(Int?.self, "null")
        agree(Blob.self, #"{"data":"aGVsbG8=","link":"https://example.com/a?b=c","amount":12.345,"when":12.5}"#)
    }

    @Test func everyErrorNamesTheSameFieldAndProblem() {
        let cases = [
            #"{"customer":"x","lines":[],"state":"open"}"#,  // a required key missing
            #"{"id":"1","customer":"x","lines":[],"state":"open"}"#,  // a string for an integer
            #"{"id":null,"customer":"x","lines":[],"state":"open"}"#,  // null for a required value
            #"{"id":1,"customer":"x","lines":[{"sku":"a","count":1},{"sku":"b"}],"state":"open"}"#,
            #"{"id":1,"customer":"x","lines":[{"sku":"a","count":true}],"state":"open"}"#,
            #"{"id":1,"customer":"x","lines":{},"state":"open"}"#,  // an object for a list
            #"{"id":1,"customer":"x","lines":[],"state":"closed"}"#,  // not one of the enum's cases
            #"{"id":1,"customer":"x","lines":[],"state":"open","matrix":[[1],["2"]]}"#,
            #"{"id":1,"customer":"x","lines":[],"state":"open","tags":{"a":"b"}}"#,
            "[]",
            "{}",
        ]
        for json in cases { agree(Order.self, json) }
    }

    /// Where Foundation's error has no path (and so reads as a malformed body), ours names the field.
    @Test func aNumberThatDoesNotFitNamesItsField() {
        let cases = [
            (#"{"id":1,"customer":"x","lines":[],"state":"open","small":256}"#, "small", "<256> does not fit in UInt8"),
            (#"{"id":1.5,"customer":"x","lines":[],"state":"open"}"#, "id", "<1.5> does not fit in Int64"),
            (#"{"id":99999999999999999999,"customer":"x","lines":[],"state":"open"}"#, "id", "does not fit in Int64"),
            (#"{"id":1,"customer":"x","lines":[],"state":"open","ratio":1e39}"#, "ratio", "does not fit in Float"),
        ]
        for (json, field, problem) in cases {
            let error = BindingError.from(Self.error { try JSONBodyDecoder.decode(Order.self, from: ByteBuffer(string: json)) })
            #expect(error.field == field, "\(json)")
            #expect(error.problem.contains(problem), "\(json): \(error.problem)")
        }
    }

    @Test func malformedDocumentsAreNotJSON() {
        let cases = [
            "", " ", "{", "}", #"{"id":1,}"#, "[1,]", "[1 2]", #"{"a" 1}"#, #"{a:1}"#, "01", "-", "1.", "1e", ".5", "+1",
            "tru", "nul", "[true false]", #""\x""#, #""\u12""#, "\"a\u{01}b\"", #""unterminated"#, "{} {}", "[1]]",
            "NaN", "Infinity", "'single'",
        ]
        for json in cases {
            #expect(throws: (any Error).self, "\(json)") { try JSONBodyDecoder.decode([Int].self, from: ByteBuffer(string: json)) }
            let message = (try? JSONBodyDecoder.decode(Int.self, from: ByteBuffer(string: json))).map { _ in "" }
                ?? BindingError.from(Self.error { try JSONBodyDecoder.decode(Int.self, from: ByteBuffer(string: json)) }).description
            #expect(message == "the body is not valid JSON", "\(json)")
        }
    }

    @Test func loneSurrogatesAndBadUTF8AreRefusedWithTheField() {
        for json in [#"{"s":"\ud800"}"#, #"{"s":"\udc00x"}"#, "{\"s\":\"\u{FF}\"}"] {
            var buffer = ByteBuffer(string: json)
            if json.contains("\u{FF}") {
                buffer = ByteBuffer(bytes: Array(#"{"s":""#.utf8) + [0xFF] + Array(#""}"#.utf8))
            }
            let error = Self.error { try JSONBodyDecoder.decode([String: String].self, from: buffer) }
            #expect(BindingError.from(error).field == "s", "\(json)")
        }
    }

    @Test func nestingPastTheLimitIsRefusedWithoutExhaustingTheStack() {
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let error = Self.error { try JSONBodyDecoder.decode([Int].self, from: ByteBuffer(string: deep)) }
        #expect(BindingError.from(error).description == "the body is not valid JSON")
        let fine = String(repeating: "[", count: 500) + String(repeating: "]", count: 500)
        #expect(throws: Never.self) { try JSONBodyDecoder.decode(NestedList.self, from: ByteBuffer(string: fine)) }
    }

    /// Any depth of nested lists.
    private struct NestedList: Decodable {
        init(from decoder: any Decoder) throws {
            var list = try decoder.unkeyedContainer()
            while !list.isAtEnd { _ = try list.decode(NestedList.self) }
        }
    }

    @Test func theContentTypeIsReadByItsEssence() {
        #expect(MediaType.format(of: "application/json") == .json)
        #expect(MediaType.format(of: "Application/JSON; charset=utf-8") == .json)
        #expect(MediaType.format(of: "application/problem+json") == .json)
        #expect(MediaType.format(of: " multipart/form-data ; boundary=x") == .multipart)
        #expect(MediaType.format(of: "application/x-www-form-urlencoded") == .form)
        #expect(MediaType.format(of: "Text/Plain; charset=utf-8") == .other("text/plain"))
        #expect(MediaType.format(of: "+json") == .other("+json"))
        #expect(MediaType.format(of: "application/jsonx") == .other("application/jsonx"))
        #expect(MediaType.format(of: nil) == .none)
    }

    private static func error(_ body: () throws -> Any) -> any Error {
        do {
            _ = try body()
        } catch {
            return error
        }
        return CancellationError()
    }
}
