import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

@testable import SluiceServer

/// The bytes `RequestGuard` writes for an answer on an HTTP/1 connection.
@Suite struct ResponseEncodingTests {
    private func head(_ status: HTTPResponseStatus, _ headers: HTTPHeaders = [:], version: HTTPVersion = .http1_1) -> String {
        var buffer = ByteBuffer()
        ResponseEncoding.writeHead(HTTPResponseHead(version: version, status: status, headers: headers), into: &buffer)
        return String(buffer: buffer)
    }

    @Test func theHeadIsStatusLineFieldsAndAnEmptyLine() {
        #expect(head(.ok, ["content-length": "2", "x-a": "b"]) == "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nx-a: b\r\n\r\n")
        #expect(head(.imATeapot) == "HTTP/1.1 418 I'm a teapot\r\n\r\n")
        #expect(head(.notFound, version: .http1_0) == "HTTP/1.1 404 Not Found\r\n\r\n", "the server's own version")
    }

    @Test func aCustomReasonPhraseCannotSplitTheHead() {
        let sneaky = HTTPResponseStatus(statusCode: 299, reasonPhrase: "Fine\r\nSet-Cookie: a=b\u{7F}")
        #expect(head(sneaky) == "HTTP/1.1 299 FineSet-Cookie: a=b\r\n\r\n")
    }

    @Test func fieldsLeftToTheGuardFollowTheHeadsOwn() {
        func withAdded(_ status: HTTPResponseStatus, _ length: Int?) -> String {
            var buffer = ByteBuffer()
            let head = HTTPResponseHead(version: .http1_1, status: status, headers: ["x-a": "b"])
            let added = ResponseEncoding.AddedFields(contentLength: length, date: "Sun, 06 Dec 2026 02:00:00 GMT")
            ResponseEncoding.writeHead(head, added: added, into: &buffer)
            return String(buffer: buffer)
        }
        let date = "date: Sun, 06 Dec 2026 02:00:00 GMT\r\n"
        for length in [0, 7, 9, 10, 99, 100, 1_234_567, Int.max] {
            #expect(withAdded(.ok, length) == "HTTP/1.1 200 OK\r\nx-a: b\r\ncontent-length: \(length)\r\n\(date)\r\n")
        }
        #expect(withAdded(.ok, nil) == "HTTP/1.1 200 OK\r\nx-a: b\r\n\(date)\r\n")
        #expect(withAdded(.noContent, 0) == "HTTP/1.1 204 No Content\r\nx-a: b\r\n\(date)\r\n", "no length on a 204")
        #expect(withAdded(.continue, 5) == "HTTP/1.1 100 Continue\r\nx-a: b\r\n\(date)\r\n", "nor on a 1xx")
        #expect(withAdded(.imATeapot, 3) == "HTTP/1.1 418 I'm a teapot\r\nx-a: b\r\ncontent-length: 3\r\n\(date)\r\n")
    }

    @Test func everyByteIsJudgedAtEveryPlaceOfAWord() {
        func expectedValue(_ bytes: [UInt8]) -> Bool { bytes.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) } }
        let tchars = Set("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ".utf8)
        for length in [1, 7, 8, 9, 16, 17] {
            for place in 0..<length {
                for byte in UInt8.min...UInt8.max {
                    var bytes = [UInt8](repeating: UInt8(ascii: "a"), count: length)
                    bytes[place] = byte
                    let value = bytes.withUnsafeBytes { ResponseHeaderCheck.isFieldValue($0) }
                    #expect(value == expectedValue(bytes), "value byte \(byte) at \(place) of \(length)")
                    if length == 1 {
                        #expect(ResponseHeaderCheck.isTokenByte(byte) == tchars.contains(byte), "token byte \(byte)")
                    }
                }
            }
        }
        #expect(ResponseHeaderCheck.isFieldValue("application/json; charset=utf-8"))
        #expect(ResponseHeaderCheck.isFieldValue("obs-text é and a\ttab, long enough for words"))
        #expect(!ResponseHeaderCheck.isFieldValue("a long value that ends in a line feed\n"))
        #expect(ResponseHeaderCheck.isToken("content-type"))
        #expect(!ResponseHeaderCheck.isToken("content type"))
    }

    @Test func chunkSizesAreHexAndTheLastChunkCarriesTrailers() {
        var buffer = ByteBuffer()
        ResponseEncoding.writeChunkSize(255, into: &buffer)
        ResponseEncoding.writeLastChunk(trailers: ["grpc-status": "0"], into: &buffer)
        ResponseEncoding.writeLastChunk(trailers: nil, into: &buffer)
        #expect(String(buffer: buffer) == "ff\r\n0\r\ngrpc-status: 0\r\n\r\n0\r\n\r\n")
        for size in [0, 1, 9, 10, 15, 16, 0xabc, 0x10000, 0x7fff_ffff] {
            var line = ByteBuffer()
            ResponseEncoding.writeChunkSize(size, into: &line)
            #expect(String(buffer: line) == String(size, radix: 16) + "\r\n")
        }
    }

    /// An application that writes one streamed answer: a head without length, then the given parts.
    final class StreamingApp: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let parts: [HTTPServerResponsePart]
        init(_ parts: [HTTPServerResponsePart]) { self.parts = parts }
        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            for part in parts { context.write(wrapOutboundOut(part), promise: nil) }
            context.flush()
        }
    }

    private func answer(_ request: String, _ parts: [HTTPServerResponsePart], _ configuration: ServerConfiguration = ServerConfiguration()) throws -> String {
        let channel = EmbeddedChannel()
        try HTTPServer.configureHTTP(channel: channel, configuration: configuration)
        try channel.pipeline.syncOperations.addHandler(StreamingApp(parts))
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        try channel.writeInbound(ByteBuffer(string: request))
        var text = ""
        while let buffer = try channel.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        return text
    }

    @Test func anUnframedAnswerIsChunkedPartByPartWithTrailers() throws {
        let big = String(repeating: "x", count: RequestGuard.joinLimit + 1)
        let text = try answer("GET / HTTP/1.1\r\nHost: h\r\n\r\n", [
            .head(HTTPResponseHead(version: .http1_1, status: .ok)),
            .body(.byteBuffer(ByteBuffer(string: "hello"))),
            .body(.byteBuffer(ByteBuffer())),  // an empty part must not end the body
            .body(.byteBuffer(ByteBuffer(string: big))),
            .end(["x-sum": "1"]),
        ])
        let size = String(big.utf8.count, radix: 16)
        #expect(text == "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n\(size)\r\n\(big)\r\n0\r\nx-sum: 1\r\n\r\n")
    }

    @Test func aLengthFramedAnswerGoesOutAsWritten() throws {
        let text = try answer("GET / HTTP/1.1\r\nHost: h\r\n\r\n", [
            .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "5"])),
            .body(.byteBuffer(ByteBuffer(string: "hel"))),
            .body(.byteBuffer(ByteBuffer(string: "lo"))),
            .end(["x-dropped": "trailers need chunking"]),
        ])
        #expect(text == "HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
    }

    @Test func aHeadWithAFieldThatCouldSplitItBecomesA500WhenValidating() throws {
        let parts: [HTTPServerResponsePart] = [
            .head(HTTPResponseHead(version: .http1_1, status: .ok, headers: ["content-length": "2", "x-a": "b\r\nx-evil: 1"])),
            .body(.byteBuffer(ByteBuffer(string: "ok"))),
            .end(nil),
        ]
        let checked = try answer("GET / HTTP/1.1\r\nHost: h\r\n\r\n", parts)
        #expect(checked.hasPrefix("HTTP/1.1 500 Internal Server Error\r\n"))
        #expect(!checked.contains("x-evil"))
        #expect(!checked.hasSuffix("ok"), "nothing of the refused answer follows")
        var trusting = ServerConfiguration()
        trusting.validateOutboundHeaders = false  // the application checks its own heads (SluiceWeb, the gateway)
        #expect(try answer("GET / HTTP/1.1\r\nHost: h\r\n\r\n", parts, trusting).hasPrefix("HTTP/1.1 200 OK\r\n"))
    }
}
