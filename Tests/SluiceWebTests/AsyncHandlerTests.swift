import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import SluiceServer
import SluiceTestSupport
import SluiceWeb
import Testing

private struct Item: Codable, Equatable {
    let id: Int
    let name: String
}

/// Waits on the loop without blocking it.
private func pause(_ c: Context, _ amount: TimeAmount = .milliseconds(5)) async throws {
    try await c.eventLoop.scheduleTask(in: amount) {}.futureResult.get()
}

@Suite struct AsyncHandlerTests {
    @Test func asyncHandlersAnswerAndStayOnTheirLoop() async throws {
        let engine = Engine()
        try engine.get("/items/:id") { c async throws in
            try await pause(c)
            // Back from the await on the connection's own loop: the context may be touched.
            let onLoop = c.eventLoop.inEventLoop
            try c.json(.ok, Item(id: Int(c.param("id") ?? "") ?? -1, name: onLoop ? "on-loop" : "off-loop"))
        }
        try engine.get("/sync") { c in c.text(.ok, "sync") }
        try await engine.test { client in
            let answer = try await client.get("/items/7")
            #expect(answer.status == .ok)
            #expect(answer.text == #"{"id":7,"name":"on-loop"}"#)
            #expect(try await client.get("/sync").text == "sync")
        }
        // The same through a real connection, twice on one keep-alive connection.
        try await withServer(engine) { port in
            let socket = try TestSocket(port: port)
            for id in [1, 2] {
                try await socket.send("GET /items/\(id) HTTP/1.1\r\nHost: x\r\n\r\n")
                let answer = try await socket.readResponse()
                #expect(answer.status == 200)
                #expect(answer.text == #"{"id":\#(id),"name":"on-loop"}"#)
            }
        }
    }

    @Test func synchronousMiddlewareRunsBeforeAndAsyncMiddlewareWraps() async throws {
        let engine = Engine()
        let order = NIOLockedValueBox<[String]>([])
        engine.use { c in
            order.withLockedValue { $0.append("sync-before") }
            c.setHeader("x-sync", "1")
            try c.next()
            order.withLockedValue { $0.append("sync-after") }
        }
        engine.use { c async throws in
            order.withLockedValue { $0.append("async-before") }
            try await c.next()
            order.withLockedValue { $0.append("async-after") }
            c.setHeader("x-status-seen", String(c.responseStatus.code))
        }
        try engine.get("/x") { c async throws in
            try await pause(c)
            order.withLockedValue { $0.append("handler") }
            c.text(.created, "made")
        }
        try await engine.test { client in
            let answer = try await client.get("/x")
            #expect(answer.status == .created)
            #expect(answer.header("x-sync") == "1")
            #expect(answer.header("x-status-seen") == "201")
        }
        // The synchronous middleware's code after next() runs when the synchronous part returned (documented).
        #expect(order.withLockedValue { $0 } == ["sync-before", "sync-after", "async-before", "handler", "async-after"])
    }

    @Test func mixedStepsRunInOrderAndAbortStopsTheAsyncPart() async throws {
        let engine = Engine()
        let guardStep = HandlerStep.sync { c in
            if c.header("authorization") == nil { c.abort(with: .unauthorized) }
        }
        try engine.get("/mixed", guardStep, .async { c in
            try await pause(c)
            c.text(.ok, "allowed")
        })
        try await engine.test { client in
            #expect(try await client.get("/mixed").status == .unauthorized)
            let allowed = try await client.get("/mixed", headers: ["authorization": "x"])
            #expect(allowed.status == .ok)
            #expect(allowed.text == "allowed")
        }
    }

    @Test func thrownErrorsAreAnswered() async throws {
        struct Broken: Error {}
        let engine = Engine()
        try engine.get("/missing") { c async throws in
            try await pause(c)
            throw HTTPError(.notFound, "item 9 does not exist")
        }
        try engine.get("/broken") { c async throws in
            try await pause(c)
            throw Broken()
        }
        try engine.get("/sync-missing") { _ in throw HTTPError(.conflict, "taken") }
        try await engine.test { client in
            let missing = try await client.get("/missing")
            #expect(missing.status == .notFound)
            #expect(missing.text == #"{"error":"item 9 does not exist"}"#)
            let broken = try await client.get("/broken")
            #expect(broken.status == .internalServerError)
            #expect(!broken.text.contains("Broken"))
            let conflict = try await client.get("/sync-missing")
            #expect(conflict.status == .conflict)
            #expect(conflict.text == #"{"error":"taken"}"#)
        }
    }

    @Test func theHandlersTaskIsCancelledWhenTheClientGoesAway() async throws {
        let engine = Engine()
        let (events, continuation) = AsyncStream.makeStream(of: String.self)
        try engine.get("/slow") { c async throws in
            continuation.yield("started")
            do {
                try await Task.sleep(for: .seconds(30))
                continuation.yield("finished")
            } catch is CancellationError {
                continuation.yield("cancelled")
                throw CancellationError()
            }
        }
        try await withServer(engine) { port in
            var iterator = events.makeAsyncIterator()
            let socket = try TestSocket(port: port)
            try await socket.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(await iterator.next() == "started")
            socket.closeNow()
            #expect(await iterator.next() == "cancelled")
        }
    }

    @Test func respondLaterStillWorksInsideAsyncHandlers() async throws {
        let engine = Engine()
        try engine.get("/later") { c async throws in
            try await pause(c)
            c.respondLater().finish(after: .milliseconds(5)) { c in c.text(.accepted, "later") }
        }
        try await engine.test { client in
            let answer = try await client.get("/later")
            #expect(answer.status == .accepted)
            #expect(answer.text == "later")
        }
    }
}
