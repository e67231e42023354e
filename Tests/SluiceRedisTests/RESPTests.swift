import NIOCore
import NIOEmbedded
import SluiceRedis
import SluiceTestSupport
import Testing

extension AllRedisTests {
    @Suite("RESP coding")
    struct RESPTests {
        /// Replies of every type, with their wire form.
        static let samples: [(wire: String, value: RESPValue)] = [
            ("+OK\r\n", .simpleString("OK")),
            ("+\r\n", .simpleString("")),
            ("-ERR unknown command 'FOO'\r\n", .error("ERR unknown command 'FOO'")),
            (":0\r\n", .integer(0)),
            (":-42\r\n", .integer(-42)),
            (":9223372036854775807\r\n", .integer(.max)),
            (":-9223372036854775808\r\n", .integer(.min)),
            ("$5\r\nhello\r\n", .bulkString("hello")),
            ("$0\r\n\r\n", .bulkString("")),
            ("$4\r\na\r\nb\r\n", .bulkString("a\r\nb")),
            ("$-1\r\n", .bulkString(nil)),
            ("*-1\r\n", .bulkString(nil)),
            ("*0\r\n", .array([])),
            (
                "*3\r\n:1\r\n$3\r\nfoo\r\n*2\r\n+a\r\n$-1\r\n",
                .array([.integer(1), .bulkString("foo"), .array([.simpleString("a"), .bulkString(nil)])])
            ),
            ("$6\r\nh\u{e9}llo\r\n", .bulkString("h\u{e9}llo")),
        ]

        static var allWire: [UInt8] { samples.flatMap { Array($0.wire.utf8) } }
        static var allValues: [RESPValue] { samples.map(\.value) }

        /// Feeds `chunks` through the real decoder in a channel and returns every reply it produced.
        static func decode(_ chunks: [[UInt8]]) throws -> [RESPValue] {
            let channel = EmbeddedChannel(handler: ByteToMessageHandler(RESPReplyDecoder()))
            var values: [RESPValue] = []
            for chunk in chunks {
                try channel.writeInbound(ByteBuffer(bytes: chunk))
                while let value = try channel.readInbound(as: RESPValue.self) { values.append(value) }
            }
            _ = try channel.finish()
            return values
        }

        @Test func decodesEachSample() throws {
            for sample in Self.samples {
                #expect(try Self.decode([Array(sample.wire.utf8)]) == [sample.value], "\(sample.wire)")
            }
        }

        @Test func splitAtEveryByteBoundaryDecodesTheSame() throws {
            let wire = Self.allWire
            for cut in 0...wire.count {
                let values = try Self.decode([Array(wire[..<cut]), Array(wire[cut...])])
                #expect(values == Self.allValues, "cut at \(cut)")
            }
            // And at every two boundaries, and one byte at a time.
            for first in stride(from: 0, through: wire.count, by: 3) {
                for second in stride(from: first, through: wire.count, by: 5) {
                    let values = try Self.decode([
                        Array(wire[..<first]), Array(wire[first..<second]), Array(wire[second...]),
                    ])
                    #expect(values == Self.allValues, "cuts at \(first), \(second)")
                }
            }
            #expect(try Self.decode(wire.map { [$0] }) == Self.allValues)
        }

        @Test func randomValuesRoundTripThroughRandomChunks() throws {
            var random = SplitMix64(state: 0x5eed)
            for round in 0..<200 {
                let values = (0..<Int.random(in: 1...8, using: &random)).map { _ in Self.randomValue(depth: 0, &random)
                }
                var buffer = ByteBuffer()
                for value in values { RESPParser.encode(value, into: &buffer) }
                let wire = Array(buffer.readableBytesView)
                var chunks: [[UInt8]] = []
                var start = 0
                while start < wire.count {
                    let end = min(wire.count, start + Int.random(in: 1...16, using: &random))
                    chunks.append(Array(wire[start..<end]))
                    start = end
                }
                #expect(try Self.decode(chunks) == values, "round \(round)")
            }
        }

        @Test(arguments: [
            "?what\r\n",  // unknown type
            ":12a\r\n",  // not a number
            ":\r\n",  // empty number
            ":-\r\n",
            ":99999999999999999999\r\n",  // overflow
            ":9223372036854775808\r\n",
            "$-2\r\n",  // negative length
            "$3\r\nabcd\r\n",  // payload longer than declared
            "$3\r\nab\r\n\r\n",  // payload shorter than declared
            "$x\r\n",
            "*-5\r\n",
            "*99999999999\r\n",  // too many elements
            "+OK\rX",  // CR without LF
            "+OK\n",  // LF without CR
            "*2\r\n:1\r\n!\r\n",  // bad element inside an array
        ])
        func malformedInputIsADecodingError(_ wire: String) {
            #expect(throws: RESPDecodingError.self) { try Self.decode([Array(wire.utf8)]) }
        }

        @Test func overlongLineAndDeepNestingAreDecodingErrors() {
            let longLine =
                [UInt8(ascii: "+")] + [UInt8](repeating: UInt8(ascii: "a"), count: RESPParser.maxLineLength + 10)
            #expect(throws: RESPDecodingError.self) { try Self.decode([longLine]) }
            let deep = Array(String(repeating: "*1\r\n", count: RESPParser.maxDepth + 5).utf8)
            #expect(throws: RESPDecodingError.self) { try Self.decode([deep]) }
            // A huge declared bulk length is refused before any allocation.
            #expect(throws: RESPDecodingError.self) { try Self.decode([Array("$99999999999\r\n".utf8)]) }
        }

        @Test func incompleteInputWaitsForMore() throws {
            for wire in ["+OK", "$5\r\nhel", "*2\r\n:1\r\n", "$5\r\nhello\r", ":12"] {
                var buffer = ByteBuffer(string: wire)
                #expect(try RESPParser.parse(&buffer) == nil, "\(wire)")
                #expect(buffer.readerIndex == 0)
            }
        }

        /// Random bytes and mutated replies: every outcome is a value, a wait for more, or a decoding error.
        @Test func fuzzNeverCrashes() {
            var random = SplitMix64(state: 42)
            let alphabet = Array("+-:$*\r\n0123456789-abc".utf8)
            let base = Self.allWire
            var errors = 0
            var values = 0
            for round in 0..<20_000 {
                var bytes: [UInt8]
                if round % 2 == 0 {
                    bytes = (0..<Int.random(in: 0...40, using: &random)).map { _ in
                        alphabet.randomElement(using: &random)!
                    }
                } else {
                    bytes = base
                    for _ in 0..<Int.random(in: 1...4, using: &random) {
                        let index = Int.random(in: 0..<bytes.count, using: &random)
                        switch Int.random(in: 0..<3, using: &random) {
                        case 0: bytes[index] = UInt8.random(in: 0...255, using: &random)
                        case 1: bytes.remove(at: index)
                        default: bytes.insert(alphabet.randomElement(using: &random)!, at: index)
                        }
                    }
                }
                var buffer = ByteBuffer(bytes: bytes)
                do {
                    while (try RESPParser.parse(&buffer)) != nil { values += 1 }
                } catch is RESPDecodingError {
                    errors += 1
                } catch {
                    Issue.record("unexpected error \(error)")
                }
            }
            #expect(errors > 1000)
            #expect(values > 1000)
        }

        @Test func encodesCommandsAsArraysOfBulkStrings() throws {
            let channel = EmbeddedChannel(handler: MessageToByteHandler(RESPCommandEncoder()))
            try channel.writeOutbound(["SET", "k\u{e9}y", ""])
            let buffer = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(String(buffer: buffer) == "*3\r\n$3\r\nSET\r\n$4\r\nk\u{e9}y\r\n$0\r\n\r\n")
            _ = try channel.finish()
        }

        static func randomValue(depth: Int, _ random: inout SplitMix64) -> RESPValue {
            let text = String(
                (0..<Int.random(in: 0...12, using: &random)).map { _ in "ab c\u{e9}1".randomElement(using: &random)! })
            switch Int.random(in: 0..<(depth < 3 ? 6 : 5), using: &random) {
            case 0: return .simpleString(text)
            case 1: return .error("ERR " + text)
            case 2: return .integer(Int.random(in: Int.min...Int.max, using: &random))
            case 3: return .bulkString(text + "\r\n\0")
            case 4: return .bulkString(nil)
            default:
                return .array(
                    (0..<Int.random(in: 0...4, using: &random)).map { _ in randomValue(depth: depth + 1, &random) })
            }
        }
    }
}
