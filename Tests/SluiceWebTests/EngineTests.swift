import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SluiceRouter
import SluiceServer
import SluiceTestSupport
import SluiceWeb
import Testing

/// Starts `engine` on an ephemeral port, runs `body`, then stops it.
func withServer(_ engine: Engine, _ body: (Int) async throws -> Void) async throws {
    let server = try await engine.start(ServerConfiguration(maxBodySize: 1024))
    do {
        try await body(server.port!)
    } catch {
        await server.shutdown()
        throw error
    }
    await server.shutdown()
}

private struct Greeting: Codable, Equatable {
    let hello: String
    let id: String?
}

private struct Boom: Error {}

@Suite struct EngineRoutingTests {
    @Test func routesParametersQueryAndJSON() async throws {
        let engine = Engine()
        try engine.get("/users/:id") { c in
            try c.json(.ok, Greeting(hello: c.query("name") ?? "nobody", id: c.param("id")))
        }
        try engine.get("/files/*path") { c in c.text(.ok, c.param("path") ?? "") }
        try await withServer(engine) { port in
            let user = try await TestHTTP.request(port: port, "GET", "/users/42?name=ada%20l&x=1")
            #expect(user.status == 200)
            #expect(user.header("content-type") == "application/json; charset=utf-8")
            #expect(user.text == #"{"hello":"ada l","id":"42"}"#)
            let file = try await TestHTTP.request(port: port, "GET", "/files/a/b%20c.txt")
            #expect(file.text == "a/b c.txt")
        }
    }

    @Test func notFoundMethodNotAllowedAndRedirects() async throws {
        let engine = Engine()
        try engine.get("/things") { c in c.text(.ok, "list") }
        try engine.post("/things") { c in c.text(.created, "made") }
        try engine.get("/docs/") { c in c.text(.ok, "docs") }
        try await withServer(engine) { port in
            let missing = try await TestHTTP.request(port: port, "GET", "/nothing")
            #expect(missing.status == 404)
            let wrongMethod = try await TestHTTP.request(port: port, "DELETE", "/things")
            #expect(wrongMethod.status == 405)
            #expect(wrongMethod.header("allow") == "GET, POST")
            let slash = try await TestHTTP.request(port: port, "GET", "/docs?x=1")
            #expect(slash.status == 301)
            #expect(slash.header("location") == "/docs/?x=1")
            let postSlash = try await TestHTTP.request(port: port, "POST", "/things/")
            #expect(postSlash.status == 308)
            #expect(postSlash.header("location") == "/things")
        }
    }

    @Test func headFallsBackToGetWithoutABody() async throws {
        let engine = Engine()
        try engine.get("/page") { c in c.text(.ok, "twelve bytes") }
        try await withServer(engine) { port in
            let socket = try TestSocket(port: port)
            try await socket.send("HEAD /page HTTP/1.1\r\nHost: x\r\n\r\n")
            let head = try await socket.readResponse(head: true)
            #expect(head.status == 200)
            #expect(head.header("content-length") == "12")
            // The connection is still in step: the next answer parses cleanly.
            try await socket.send("GET /page HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().text == "twelve bytes")
        }
    }

    @Test func groupsComposeTheirMiddlewareInOrder() async throws {
        let engine = Engine()
        let trace: Handler = { c in
            c.setHeader("x-trace", (c.responseHeaders.first(name: "x-trace") ?? "") + "engine,")
            try c.next()
        }
        engine.use(trace)
        let api = engine.group("/api", { c in
            c.setHeader("x-trace", (c.responseHeaders.first(name: "x-trace") ?? "") + "api,")
            try c.next()
        })
        let v1 = api.group("v1")
        v1.use { c in
            c.setHeader("x-trace", (c.responseHeaders.first(name: "x-trace") ?? "") + "v1,")
            try c.next()
        }
        try v1.get("/ping") { c in c.text(.ok, c.fullPath ?? "") }
        try await withServer(engine) { port in
            let response = try await TestHTTP.request(port: port, "GET", "/api/v1/ping")
            #expect(response.text == "/api/v1/ping")
            #expect(response.header("x-trace") == "engine,api,v1,")
            let miss = try await TestHTTP.request(port: port, "GET", "/api/v2/ping")
            #expect(miss.status == 404)
            #expect(miss.header("x-trace") == "engine,", "engine middleware runs for 404s too")
        }
    }

    @Test func middlewareRunsBeforeAndAfterNextAndCanAbort() async throws {
        let engine = Engine()
        engine.use { c in
            try c.next()
            c.setHeader("x-after", "status \(c.responseStatus.code)")
        }
        engine.use { c in
            if c.header("authorization") == nil {
                c.abort(with: .unauthorized)
            }
        }
        try engine.get("/secret") { c in c.text(.ok, "secret") }
        try await withServer(engine) { port in
            let denied = try await TestHTTP.request(port: port, "GET", "/secret")
            #expect(denied.status == 401)
            #expect(denied.text.isEmpty)
            #expect(denied.header("x-after") == "status 401")
            let allowed = try await TestHTTP.request(port: port, "GET", "/secret", headers: [("Authorization", "yes")])
            #expect(allowed.status == 200)
            #expect(allowed.text == "secret")
            #expect(allowed.header("x-after") == "status 200")
        }
    }

    @Test func conflictingRoutesAreRejectedAtRegistration() throws {
        let engine = Engine()
        try engine.get("/users/:id") { _ in }
        let error = #expect(throws: RouterError.self) { try engine.get("/users/:name/posts") { _ in } }
        #expect(error?.existingPattern == "/users/:id")
    }
}

@Suite struct EngineMiddlewareTests {
    @Test func recoveryTurnsThrownErrorsInto500AndKeepsTheConnection() async throws {
        let engine = Engine.default()
        try engine.get("/boom") { _ in throw Boom() }
        try engine.get("/fine") { c in c.text(.ok, "fine") }
        try await withServer(engine) { port in
            let socket = try TestSocket(port: port)
            try await socket.send("GET /boom HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().status == 500)
            try await socket.send("GET /fine HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().text == "fine")
        }
    }

    @Test func uncaughtErrorsStillBecome500() async throws {
        let engine = Engine()
        try engine.get("/boom") { _ in throw Boom() }
        try await withServer(engine) { port in
            let response = try await TestHTTP.request(port: port, "GET", "/boom")
            #expect(response.status == 500)
        }
    }

    @Test func requestIDIsKeptOrMade() async throws {
        let engine = Engine()
        engine.use(RequestID())
        try engine.get("/id") { c in c.text(.ok, c.requestID ?? "") }
        try await withServer(engine) { port in
            let kept = try await TestHTTP.request(port: port, "GET", "/id", headers: [("X-Request-Id", "abc-123")])
            #expect(kept.text == "abc-123")
            #expect(kept.header("x-request-id") == "abc-123")
            let made = try await TestHTTP.request(port: port, "GET", "/id")
            #expect(made.text.utf8.count == 32)
            #expect(made.header("x-request-id") == made.text)
            let other = try await TestHTTP.request(port: port, "GET", "/id")
            #expect(other.text != made.text)
            let junk = try await TestHTTP.request(port: port, "GET", "/id", headers: [("X-Request-Id", String(repeating: "x", count: 300))])
            #expect(junk.text.utf8.count == 32, "an unreasonable id is replaced")
        }
    }

    @Test func accessLogSeesTheFinalStatus() async throws {
        let lines = NIOLockedValueBox<[String]>([])
        let engine = Engine()
        engine.use { c in
            c.onFinish { c in lines.withLockedValue { $0.append("\(c.method.rawValue) \(c.path) \(c.responseStatus.code)") } }
            try c.next()
        }
        try engine.get("/later") { c in
            c.respondLater().finish(after: .milliseconds(20)) { c in c.text(.accepted, "done") }
        }
        try await withServer(engine) { port in
            let response = try await TestHTTP.request(port: port, "GET", "/later?x=1")
            #expect(response.status == 202)
            #expect(response.text == "done")
            _ = try await TestHTTP.request(port: port, "GET", "/missing")
        }
        // Each line is written when its answer has been sent; the two connections may finish in either order.
        #expect(lines.withLockedValue { $0 }.sorted() == ["GET /later 202", "GET /missing 404"])
    }

    @Test func bodiesArriveWholeAndLimitsApply() async throws {
        let engine = Engine()
        try engine.post("/echo") { c in
            c.data(.ok, contentType: "application/octet-stream", c.body ?? ByteBuffer())
        }
        try await withServer(engine) { port in
            let echoed = try await TestHTTP.request(port: port, "POST", "/echo", body: String(repeating: "z", count: 1000))
            #expect(echoed.text == String(repeating: "z", count: 1000))
            let socket = try TestSocket(port: port)
            try await socket.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            #expect(try await socket.readResponse().text == "abcde")
            let tooBig = try await TestHTTP.request(port: port, "POST", "/echo", body: String(repeating: "z", count: 1025))
            #expect(tooBig.status == 413)
        }
    }

    @Test func connectionCloseIsHonoured() async throws {
        let engine = Engine()
        try engine.get("/x") { c in c.text(.ok, "x") }
        try await withServer(engine) { port in
            let socket = try TestSocket(port: port)
            try await socket.send("GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            let response = try await socket.readResponse()
            #expect(response.header("connection") == "close")
            #expect(try await socket.waitForClose())
            let old = try TestSocket(port: port)
            try await old.send("GET /x HTTP/1.0\r\n\r\n")
            _ = try await old.readResponse()
            #expect(try await old.waitForClose(), "HTTP/1.0 without keep-alive closes")
        }
    }

    @Test func malformedRequestsGet400NotACrash() async throws {
        let engine = Engine()
        try engine.get("/x") { c in c.text(.ok, "x") }
        try await withServer(engine) { port in
            for garbage in ["BLAH\r\n\r\n", "GET /x HTTP/9.9\r\n\r\n", "GET /x HTTP/1.1\r\nBad Header\r\n\r\n", "\u{1}\u{2}\u{3}\r\n\r\n"] {
                let socket = try TestSocket(port: port)
                try await socket.send(garbage)
                let response = try? await socket.readResponse()
                // 4xx, or 501 for a method the parser does not know and 505 for an HTTP version it does not speak.
                #expect(response.map { (400..<500).contains($0.status) || [501, 505].contains($0.status) } ?? true,
                        "\(garbage.debugDescription)")
                #expect(try await socket.waitForClose())
            }
            #expect(try await TestHTTP.request(port: port, "GET", "/x").status == 200, "the server is still up")
        }
    }
}
