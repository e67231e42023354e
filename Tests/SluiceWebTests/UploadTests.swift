import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SluiceServer
import SluiceTestSupport
@testable import SluiceWeb
import Testing

private struct Upload: Decodable {
    let title: String
    let count: Int
    let file: FormFile
}

/// A multipart/form-data body with CRLF line ends, as browsers and curl send it.
private func multipart(boundary: String, _ parts: [(headers: [String], body: String)]) -> String {
    var text = ""
    for part in parts {
        text += "--\(boundary)\r\n"
        for header in part.headers { text += header + "\r\n" }
        text += "\r\n" + part.body + "\r\n"
    }
    return text + "--\(boundary)--\r\n"
}

@Suite struct MultipartTests {
    private static let boundary = "----sluice7MA4YWxkTrZu0gW"
    private static let type = "multipart/form-data; boundary=\(boundary)"

    private func engine() throws -> Engine {
        let engine = Engine()
        try engine.post("/upload") { c in
            let upload = try c.bind(Upload.self)
            c.text(
                .ok,
                "\(upload.title) \(upload.count) \(upload.file.filename ?? "-") \(upload.file.contentType ?? "-") "
                    + String(buffer: upload.file.data))
        }
        try engine.post("/parts") { c in
            let form = try c.multipartForm()
            let file = form.file("doc")
            c.text(.ok, "\(form.parts.count) \(form.value("note") ?? "-") \(file?.filename ?? "-") \(file.map { String(buffer: $0.data) } ?? "-")")
        }
        return engine
    }

    @Test func filesAndFieldsBind() async throws {
        let body = multipart(boundary: Self.boundary, [
            (["Content-Disposition: form-data; name=\"title\""], "report"),
            (["Content-Disposition: form-data; name=\"count\""], "3"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"q3 \\\"final\\\".csv\"", "Content-Type: text/csv"],
             "a,b\r\n1,2"),
        ])
        try await engine().test { client in
            let answer = try await client.post("/upload", body, contentType: Self.type)
            #expect(answer.status == .ok)
            #expect(answer.text == "report 3 q3 \"final\".csv text/csv a,b\r\n1,2")
            let parts = try await client.post("/parts", multipart(boundary: Self.boundary, [
                (["Content-Disposition: form-data; name=\"note\""], "hi"),
                (["Content-Disposition: form-data; name=\"doc\"; filename=\"a.txt\""], "text"),
            ]), contentType: Self.type)
            #expect(parts.text == "2 hi a.txt text")
        }
    }

    @Test func badMultipartBodiesAreClientErrorsThatSaySo() async throws {
        let missing = multipart(boundary: Self.boundary, [
            (["Content-Disposition: form-data; name=\"count\""], "3"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"a\""], "x"),
        ])
        let notANumber = multipart(boundary: Self.boundary, [
            (["Content-Disposition: form-data; name=\"title\""], "t"),
            (["Content-Disposition: form-data; name=\"count\""], "three"),
            (["Content-Disposition: form-data; name=\"file\"; filename=\"a\""], "x"),
        ])
        try await engine().test { client in
            let cases: [(String, String, String, HTTPResponseStatus, String)] = [
                ("/upload", Self.type, missing, .badRequest, #"field \"title\": is required"#),
                ("/upload", "multipart/form-data", missing, .badRequest, "the multipart Content-Type has no valid boundary"),
                ("/parts", Self.type, "--wrong\r\n\r\n", .badRequest, "the multipart body has no complete part"),
                ("/parts", "text/plain", "x", .unsupportedMediaType, "send multipart/form-data"),
            ]
            for (path, type, body, status, message) in cases {
                let answer = try await client.post(path, body, contentType: type)
                #expect(answer.status == status, "\(path) \(type)")
                #expect(answer.text == #"{"error":"\#(message)"}"#, "\(path) \(type)")
            }
            let typeMismatch = try await client.post("/upload", notANumber, contentType: Self.type)
            #expect(typeMismatch.status == .badRequest)
            #expect(typeMismatch.text.contains(#"field \"count\""#))
        }
    }

    @Test func headerParametersAreReadAsRFC7578Says() {
        #expect(MultipartForm.boundary(of: "multipart/form-data; boundary=abc") == "abc")
        #expect(MultipartForm.boundary(of: "multipart/form-data; charset=utf-8; BOUNDARY=\"a b;c\"") == "a b;c")
        #expect(MultipartForm.boundary(of: "multipart/form-data") == nil)
        #expect(MultipartForm.boundary(of: "multipart/form-data; boundary=\(String(repeating: "x", count: 71))") == nil)
        #expect(MultipartForm.parameter("filename", of: #"form-data; name="f"; filename="a\"b.txt""#) == #"a"b.txt"#)
        #expect(MultipartForm.parameter("name", of: "form-data; name=plain") == "plain")
        #expect(MultipartForm.parameter("filename", of: "form-data; name=plain") == nil)
    }
}

@Suite struct StreamingBodyTests {
    private func engine() throws -> Engine {
        let engine = Engine()
        // Answers each part as it arrives: proves the chain runs before the body has ended.
        try engine.streaming("POST", "/echo-parts") { c async throws in
            try await c.stream(contentType: "text/plain") { writer in
                var total = 0
                for try await part in c.bodyStream {
                    total += part.readableBytes
                    try await writer.write("got \(total)\n")
                }
                try await writer.write("done \(total)\n")
            }
        }
        try engine.streaming("PUT", "/count") { c async throws in
            var total = 0
            var parts = 0
            for try await part in c.bodyStream {
                total += part.readableBytes
                parts += 1
            }
            #expect(c.body == nil)
            c.text(.ok, "\(total) bytes")
        }
        try engine.streaming("POST", "/refuse") { c in c.text(.forbidden, "no\n") }
        try engine.post("/buffered") { c async throws in
            let whole = try await c.bodyStream.collect(upTo: 4)
            c.text(.ok, String(buffer: whole))
        }
        return engine
    }

    @Test func inProcessTheBodyIsOnePart() async throws {
        try await engine().test { client in
            #expect(try await client.put("/count", "hello", contentType: "text/plain").text == "5 bytes")
            #expect(try await client.post("/buffered", "abcd", contentType: "text/plain").text == "abcd")
            let over = try await client.post("/buffered", "abcde", contentType: "text/plain")
            #expect(over.status == .payloadTooLarge)
        }
    }

    @Test func partsReachTheHandlerBeforeTheBodyEnds() async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxBodySize = 64 * 1024 * 1024
        try await engine().test(.live(configuration)) { client in
            let socket = try TestSocket(port: try #require(client.port))
            try await socket.send("POST /echo-parts HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nhello")
            // The handler answers the first part while the client has not sent the rest.
            let first = try await readUntil(socket, "got 5\n")
            #expect(first.contains("HTTP/1.1 200 OK"))
            try await socket.send("world")
            let rest = try await readUntil(socket, "0\r\n\r\n")
            #expect(rest.contains("got 10\n"))
            #expect(rest.contains("done 10\n"))
        }
    }

    @Test func largeBodiesStreamThroughAndEarlyAnswersClose() async throws {
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxBodySize = 64 * 1024 * 1024
        try await engine().test(.live(configuration)) { client in
            let size = 8 * 1024 * 1024
            let socket = try TestSocket(port: try #require(client.port))
            let chunk = [UInt8](repeating: 0x61, count: 256 * 1024)
            try await socket.send("PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\n\r\n")
            for _ in 0..<(size / chunk.count) { try await socket.send(chunk) }
            let answer = try await socket.readResponse()
            #expect(answer.status == 200)
            #expect(answer.text == "\(size) bytes")
            // Still usable: the body was read to its end.
            try await socket.send("PUT /count HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
            #expect(try await socket.readResponse().text == "3 bytes")

            let early = try TestSocket(port: try #require(client.port))
            try await early.send("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\npartial")
            let refused = try await early.readResponse()
            #expect(refused.status == 403)
            #expect(refused.header("connection") == "close")
            #expect(try await early.waitForClose())
        }
    }
}

@Suite struct StreamingBodyLimitTests {
    @Test func aChunkedUploadPastTheServersLimitIsRefusedAndTheHandlerSeesAnError() async throws {
        let engine = Engine()
        let seen = NIOLockedValueBox<String>("")
        try engine.streaming("PUT", "/count") { c async throws in
            var total = 0
            do {
                for try await part in c.bodyStream { total += part.readableBytes }
                seen.withLockedValue { $0 = "ended \(total)" }
            } catch let error as RequestBodyError {
                seen.withLockedValue { $0 = "\(error.status.code) \(error.message)" }
                throw error
            }
            c.text(.ok, "\(total) bytes\n")
        }
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.maxBodySize = 1000
        try await engine.test(.live(configuration)) { client in
            let socket = try TestSocket(port: try #require(client.port))
            let chunk = String(repeating: "x", count: 600)
            try await socket.send("PUT /count HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
            try await socket.send("258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n")
            let answer = try await socket.readResponse()
            #expect(answer.status == 413)
            #expect(try await socket.waitForClose())
        }
        // The handler's stream ended in the server's refusal, never as a whole body.
        #expect(seen.withLockedValue { $0 } == "413 the request body is too large")
    }
}

@Suite struct StreamingBodyOverHTTP2Tests {
    @Test func aLargeUploadOverH2cStreamsThroughASlowConsumer() async throws {
        let engine = Engine()
        try engine.streaming("PUT", "/files/:name") { c async throws in
            var total = 0
            var sum = 0
            for try await part in c.bodyStream {
                total += part.readableBytes
                sum = part.readableBytesView.reduce(sum) { ($0 &+ Int($1)) % 1_000_003 }
                // A slow consumer for the first 256 KiB: the stream (and HTTP/2 flow control) must hold the client
                // back meanwhile, not memory.
                if total < 256 * 1024 { try await c.eventLoop.scheduleTask(in: .milliseconds(1)) {}.futureResult.get() }
            }
            c.text(.created, "\(total) \(sum)\n")
        }
        let size = 3 * 1024 * 1024 + 17
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: ($0 * 7) % 253) }
        let expected = bytes.reduce(0) { ($0 &+ Int($1)) % 1_000_003 }
        let file = try makeTemporaryDirectory("sluiceweb-upload-h2") + "/upload.bin"
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.transport = .h2c
        configuration.maxBodySize = 64 * 1024 * 1024
        try await engine.test(.live(configuration)) { client in
            let port = try #require(client.port)
            let output = try await Command.run(
                "/usr/bin/curl", ["-s", "--http2-prior-knowledge", "-T", file, "-w", "%{http_code} %{http_version}",
                                  "http://127.0.0.1:\(port)/files/upload.bin"])
            #expect(output.stdout == "\(size) \(expected)\n201 2")
        }
    }
}

/// Reads from `socket` until the text read so far contains `marker`.
private func readUntil(_ socket: TestSocket, _ marker: String) async throws -> String {
    try await offload {
        var text = ""
        while !text.contains(marker) {
            guard let chunk = socket.readChunk() else { break }
            text += String(decoding: chunk, as: UTF8.self)
        }
        return text
    }
}

@Suite struct ResponseHeaderCheckTests {
    @Test func namesAreTokensAndValuesCannotSplitTheHead() {
        #expect(ResponseHeaderCheck.isValidToSend(["content-type": "text/plain", "x-a": "tab\there é"]))
        #expect(!ResponseHeaderCheck.isValidToSend(["x-a": "one\r\nset-cookie: evil=1"]))
        #expect(!ResponseHeaderCheck.isValidToSend(["x-a": "nul\u{0}"]))
        #expect(!ResponseHeaderCheck.isValidToSend(["x a": "v"]))
        #expect(!ResponseHeaderCheck.isValidToSend(["x:a": "v"]))
        #expect(ResponseHeaderCheck.isToken("x-!#$%&'*+.^_`|~09AZaz"))
        #expect(!ResponseHeaderCheck.isToken(""))
    }

    @Test func aHandlersInvalidHeaderBecomesA500AndAStreamLosesTheField() async throws {
        let engine = Engine()
        try engine.get("/split") { c in
            c.responseHeaders.add(name: "x-echo", value: "a\r\nset-cookie: stolen=1")
            c.text(.ok, "fine\n")
        }
        // Fields changed after the framework's own (which skip the check while they are all it wrote).
        try engine.get("/after") { c in
            c.text(.ok, "fine\n")
            c.responseHeaders.replaceOrAdd(name: "content-type", value: "text/plain\r\nx-evil: 1")
        }
        try engine.get("/replaced") { c in
            try c.json(.ok, ["a": 1])
            c.responseHeaders = ["x-a": "b\nc"]
        }
        try engine.get("/set") { c in
            c.setHeader("x-a", "b\rc")
            c.text(.ok, "fine\n")
        }
        try engine.get("/type") { c in c.data(.ok, contentType: "text/plain\nx-evil: 1", ByteBuffer(string: "x")) }
        try engine.get("/stream") { c async throws in
            c.responseHeaders.add(name: "x-bad", value: "a\nb")
            c.responseHeaders.add(name: "x-good", value: "yes")
            try await c.stream(contentType: "text/plain") { writer in try await writer.write("streamed\n") }
        }
        for mode in [Engine.TestMode.inProcess, .live()] {
            try await engine.test(mode) { client in
                let split = try await client.get("/split")
                #expect(split.status == .internalServerError)
                #expect(split.header("set-cookie") == nil)
                #expect(split.header("x-echo") == nil)
                for path in ["/after", "/replaced", "/set", "/type"] {
                    let refused = try await client.get(path)
                    #expect(refused.status == .internalServerError, "\(path)")
                    #expect(refused.header("x-evil") == nil && refused.header("x-a") == nil, "\(path)")
                }
                let stream = try await client.get("/stream")
                #expect(stream.status == .ok)
                #expect(stream.text == "streamed\n")
                #expect(stream.header("x-bad") == nil)
                #expect(stream.header("x-good") == "yes")
            }
        }
    }
}

@Suite struct ExpectContinueTests {
    @Test func aClientThatExpects100ContinueIsToldToGoOn() async throws {
        let engine = Engine()
        try engine.streaming("PUT", "/files/:name") { c async throws in
            let whole = try await c.bodyStream.collect(upTo: 1024)
            c.text(.created, "\(c.param("name") ?? "") \(whole.readableBytes)\n")
        }
        try engine.post("/buffered") { c in c.text(.ok, "\(c.body?.readableBytes ?? 0)\n") }
        try await engine.test(.live()) { client in
            let socket = try TestSocket(port: try #require(client.port))
            for (request, answer) in [
                ("PUT /files/a.txt HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n", "a.txt 5\n"),
                ("POST /buffered HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n", "5\n"),
            ] {
                try await socket.send(request)
                // The go-ahead comes before any body byte is sent.
                let interim = try await readUntil(socket, "\r\n\r\n")
                #expect(interim == "HTTP/1.1 100 Continue\r\n\r\n")
                try await socket.send("hello")
                let final = try await socket.readResponse()
                #expect(final.text == answer)
            }
        }
    }
}
