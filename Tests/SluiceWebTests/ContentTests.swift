import Foundation
import NIOCore
import NIOHTTP1
import SluiceServer
import SluiceTestSupport
import SluiceWeb
import Testing

private struct NewTodo: Codable {
    struct Tag: Codable { let name: String }
    let title: String
    let priority: Int
    let done: Bool?
    let tags: [Tag]?
}

private struct Search: Codable {
    let q: String
    let limit: Int?
    let tag: [String]?
}

@Suite struct BindingTests {
    private func engine() throws -> Engine {
        let engine = Engine()
        try engine.post("/todos") { c in
            let todo = try c.bind(NewTodo.self)
            c.text(.created, "\(todo.title) \(todo.priority) \(todo.done ?? false) \(todo.tags?.count ?? 0)")
        }
        try engine.get("/search") { c in
            let search = try c.bindQuery(Search.self)
            c.text(.ok, "\(search.q) \(search.limit ?? -1) \(search.tag ?? [])")
        }
        try engine.get("/items/:id") { c in
            let id = try c.param("id", as: Int.self)
            let limit = try c.query("limit", as: Int.self) ?? 10
            c.text(.ok, "\(id) \(limit)")
        }
        return engine
    }

    @Test func jsonAndFormsBindAndEveryErrorNamesItsField() async throws {
        try await engine().test { client in
            let made = try await client.post("/todos", #"{"title":"milk","priority":2,"tags":[{"name":"a"}]}"#)
            #expect(made.status == .created)
            #expect(made.text == "milk 2 false 1")
            let form = try await client.post(
                "/todos", "title=bread+rolls&priority=3&done=on", contentType: "application/x-www-form-urlencoded")
            #expect(form.text == "bread rolls 3 true 0")
            let cases: [(String, String, HTTPResponseStatus, String)] = [
                ("application/json", #"{"priority":2}"#, .badRequest, #"field \"title\": is required"#),
                ("application/json", #"{"title":"x","priority":"high"}"#, .badRequest,
                 #"field \"priority\": expected an integer"#),
                ("application/json", #"{"title":null,"priority":1}"#, .badRequest, #"field \"title\": must not be null"#),
                ("application/json", #"{"title":"x","priority":1,"tags":[{"name":"a"},{}]}"#, .badRequest,
                 #"field \"tags[1].name\": is required"#),
                ("application/json", #"{"title":"#, .badRequest, "the body is not valid JSON"),
                ("application/json", "", .badRequest, "the body is empty"),
                ("application/x-www-form-urlencoded", "title=x&priority=two", .badRequest,
                 #"field \"priority\": expected an integer"#),
                ("text/plain", "hello", .unsupportedMediaType,
                 #"\"text/plain\" is not accepted; send application/json, application/x-www-form-urlencoded or multipart/form-data"#),
            ]
            for (type, body, status, message) in cases {
                let answer = try await client.post("/todos", body, contentType: type)
                #expect(answer.status == status, "\(body)")
                #expect(answer.text == #"{"error":"\#(message)"}"#, "\(body)")
            }
        }
    }

    @Test func queriesAndTypedParameters() async throws {
        try await engine().test { client in
            #expect(try await client.get("/search?q=a+b&limit=5&tag=x&tag[]=y").text == #"a b 5 ["x", "y"]"#)
            let missing = try await client.get("/search?limit=5")
            #expect(missing.status == .badRequest)
            #expect(missing.text == #"{"error":"field \"q\": is required"}"#)
            #expect(try await client.get("/items/42?limit=3").text == "42 3")
            let bad = try await client.get("/items/abc")
            #expect(bad.status == .badRequest)
            #expect(bad.text == #"{"error":"path parameter \"id\": \"abc\" is not a valid integer"}"#)
            let badQuery = try await client.get("/items/1?limit=lots")
            #expect(badQuery.text == #"{"error":"query parameter \"limit\": \"lots\" is not a valid integer"}"#)
        }
    }

    @Test func cookiesAreReadAndSetWithTheirAttributes() async throws {
        let engine = Engine()
        try engine.get("/login") { c in
            try c.setCookie(Cookie(name: "session", value: "abc123", maxAge: 3600, secure: true, sameSite: .strict))
            c.text(.ok, c.cookie("theme") ?? "none")
        }
        try engine.get("/bad") { c in try c.setCookie(Cookie(name: "x", value: "a;b")) }
        try engine.get("/none") { c in try c.setCookie(Cookie(name: "x", value: "1", sameSite: .crossSite)) }
        try await engine.test { client in
            let answer = try await client.get("/login", headers: ["cookie": "a=1; theme=\"dark\"; b=2"])
            #expect(answer.text == "dark")
            #expect(answer.header("set-cookie") == "session=abc123; Max-Age=3600; Path=/; Secure; HttpOnly; SameSite=Strict")
            #expect(try await client.get("/bad").status == .internalServerError)
            #expect(try await client.get("/none").text == #"{"error":"cookie x: SameSite=None needs Secure"}"#)
        }
    }
}

@Suite struct StreamingAndFileTests {
    @Test func streamsAndServerSentEventsArriveInParts() async throws {
        let engine = Engine()
        try engine.get("/export") { c async throws in
            try await c.stream(contentType: "text/csv") { writer in
                for row in 0..<3 { try await writer.write("row \(row)\n") }
            }
        }
        try engine.get("/events") { c async throws in
            try await c.eventStream { events in
                try await events.send(data: "one", event: "tick", id: "1")
                try await events.send(data: "two\nlines", id: "2\r\nx")
                try await events.keepAlive()
            }
        }
        try await engine.test { client in
            let export = try await client.get("/export")
            #expect(export.parts.count == 3)
            #expect(export.text == "row 0\nrow 1\nrow 2\n")
            let events = try await client.get("/events")
            #expect(events.header("content-type") == "text/event-stream")
            #expect(events.header("cache-control") == "no-cache")
            #expect(events.text == "event: tick\nid: 1\ndata: one\n\nid: 2x\ndata: two\ndata: lines\n\n: \n\n")
        }
        // Through a real connection: chunked, read whole by curl.
        try await withServer(engine) { port in
            let output = try await Command.run("/usr/bin/curl", ["-si", "http://127.0.0.1:\(port)/export"])
            #expect(output.stdout.lowercased().contains("transfer-encoding: chunked"))
            #expect(output.stdout.hasSuffix("row 0\nrow 1\nrow 2\n"))
        }
    }

    @Test func staticFilesWithValidatorsAndRanges() async throws {
        let root = try makeTemporaryDirectory("sluiceweb-static")
        try "0123456789".write(toFile: root + "/digits.txt", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: root + "/docs", withIntermediateDirectories: true)
        try "<h1>docs</h1>".write(toFile: root + "/docs/index.html", atomically: true, encoding: .utf8)
        try "secret".write(toFile: root + "/../sluiceweb-secret.txt", atomically: true, encoding: .utf8)
        let engine = Engine()
        try engine.staticFiles("/assets", root: root)
        let check: (TestClient) async throws -> Void = { client in
            let whole = try await client.get("/assets/digits.txt")
            #expect(whole.status == .ok)
            #expect(whole.text == "0123456789")
            #expect(whole.header("content-type") == "text/plain; charset=utf-8")
            #expect(whole.header("accept-ranges") == "bytes")
            let etag = try #require(whole.header("etag"))
            let modified = try #require(whole.header("last-modified"))
            #expect(try await client.get("/assets/digits.txt", headers: ["if-none-match": etag]).status == .notModified)
            #expect(try await client.get("/assets/digits.txt", headers: ["if-modified-since": modified]).status == .notModified)
            let part = try await client.get("/assets/digits.txt", headers: ["range": "bytes=2-4"])
            #expect(part.status == .partialContent)
            #expect(part.text == "234")
            #expect(part.header("content-range") == "bytes 2-4/10")
            #expect(try await client.get("/assets/digits.txt", headers: ["range": "bytes=-3"]).text == "789")
            let outside = try await client.get("/assets/digits.txt", headers: ["range": "bytes=20-"])
            #expect(outside.status == .rangeNotSatisfiable)
            #expect(outside.header("content-range") == "bytes */10")
            let stale = try await client.get("/assets/digits.txt", headers: ["range": "bytes=2-4", "if-range": "\"old\""])
            #expect(stale.status == .ok)
            #expect(try await client.get("/assets/docs").text == "<h1>docs</h1>")
            #expect(try await client.get("/assets/../sluiceweb-secret.txt").status == .notFound)
            #expect(try await client.get("/assets/%2e%2e/sluiceweb-secret.txt").status == .notFound)
            #expect(try await client.get("/assets/missing.txt").status == .notFound)
            let head = try await client.head("/assets/digits.txt")
            #expect(head.header("content-length") == "10")
            #expect(head.body.readableBytes == 0)
        }
        try await engine.test(.inProcess, check)
        // Through a real connection, where the file goes out with sendfile.
        try await withServer(engine) { port in
            let whole = try await TestHTTP.request(port: port, "GET", "/assets/digits.txt")
            #expect(whole.text == "0123456789")
            let part = try await TestHTTP.request(port: port, "GET", "/assets/digits.txt", headers: [("Range", "bytes=5-")])
            #expect(part.status == 206)
            #expect(part.text == "56789")
        }
    }

    @Test func largeFilesOverHTTP2AreReadInPartsAndArriveWhole() async throws {
        let root = try makeTemporaryDirectory("sluiceweb-static-h2")
        // 1 MiB + 3 bytes of a repeating pattern: several 64 KiB parts and a short last one.
        let size = 1024 * 1024 + 3
        let bytes = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 251) }
        try Data(bytes).write(to: URL(fileURLWithPath: root + "/big.bin"))
        let engine = Engine()
        try engine.staticFiles("/assets", root: root)
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0)
        configuration.transport = .h2c
        try await engine.test(.live(configuration)) { client in
            let port = try #require(client.port)
            let out = root + "/copy.bin"
            let status = try await Command.run(
                "/usr/bin/curl", ["-s", "--http2-prior-knowledge", "-o", out, "-w", "%{http_code} %{http_version}",
                                  "http://127.0.0.1:\(port)/assets/big.bin"])
            #expect(status.stdout == "200 2")
            let copy = try Data(contentsOf: URL(fileURLWithPath: out))
            #expect(copy.count == size)
            #expect(copy == Data(bytes))
            let part = root + "/part.bin"
            let range = try await Command.run(
                "/usr/bin/curl", ["-s", "--http2-prior-knowledge", "-r", "70000-70009", "-o", part, "-w", "%{http_code}",
                                  "http://127.0.0.1:\(port)/assets/big.bin"])
            #expect(range.stdout == "206")
            #expect(try Data(contentsOf: URL(fileURLWithPath: part)) == Data(bytes[70000...70009]))
        }
    }
}
