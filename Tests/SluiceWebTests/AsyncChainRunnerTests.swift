import NIOConcurrencyHelpers
import NIOCore
import SluiceTestSupport
import Testing

@testable import SluiceWeb

/// The task of the request being served, as a number to compare.
private func currentTaskID() -> Int {
    withUnsafeCurrentTask { $0?.hashValue } ?? 0
}

/// Records which task served each request, in order.
private final class TaskLog: Sendable {
    private let ids = NIOLockedValueBox<[String: [Int]]>([:])
    func record(_ key: String) { ids.withLockedValue { $0[key, default: []].append(currentTaskID()) } }
    func ids(_ key: String) -> [Int] { ids.withLockedValue { $0[key] ?? [] } }
}

/// Waits, up to five seconds, for `condition`: for effects that follow a connection's end on the server's loop.
private func eventually(_ condition: () -> Bool) async throws -> Bool {
    for _ in 0..<500 {
        if condition() { return true }
        try await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

@Suite struct AsyncChainRunnerTests {
    @Test func oneTaskServesAConnectionsAsyncRequestsInTurn() async throws {
        let log = TaskLog()
        let engine = Engine()
        try engine.get("/now/:n") { c async throws in
            log.record("connection")
            c.text(.ok, "now \(c.param("n") ?? "")\n")
        }
        try engine.get("/later/:n") { c async throws in
            try await c.eventLoop.scheduleTask(in: .milliseconds(2)) {}.futureResult.get()
            log.record("connection")
            c.text(.ok, "later \(c.param("n") ?? "")\n")
        }
        try await withServer(engine) { port in
            let socket = try TestSocket(port: port)
            // One at a time, answered at once or after a real suspension.
            for (index, path) in ["/now/1", "/later/2", "/now/3", "/later/4"].enumerated() {
                try await socket.send("GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n")
                let answer = try await socket.readResponse()
                #expect(answer.status == 200)
                #expect(answer.text == "\(path.hasPrefix("/now") ? "now" : "later") \(index + 1)\n")
            }
            // Pipelined: the next request reaches the runner while the task is still writing the answer before it.
            try await socket.send(
                "GET /now/5 HTTP/1.1\r\nHost: x\r\n\r\nGET /later/6 HTTP/1.1\r\nHost: x\r\n\r\nGET /now/7 HTTP/1.1\r\nHost: x\r\n\r\n")
            for expected in ["now 5\n", "later 6\n", "now 7\n"] {
                #expect(try await socket.readResponse().text == expected)
            }
            let ids = log.ids("connection")
            #expect(ids.count == 7)
            #expect(Set(ids).count == 1, "one task for the connection's requests: \(ids)")
            #expect(ids.first != 0)

            // Another connection has a task of its own.
            let other = try TestSocket(port: port)
            try await other.send("GET /now/8 HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await other.readResponse().text == "now 8\n")
            #expect(log.ids("connection").last != ids.first)
        }
    }

    @Test func aTimedOutHandlerThatIgnoresCancellationDoesNotHoldTheConnection() async throws {
        let log = TaskLog()
        let engine = Engine()
        let release = NIOLockedValueBox<EventLoopPromise<Void>?>(nil)
        let (finished, finishedContinuation) = AsyncStream.makeStream(of: Bool.self)
        try engine.get("/stuck", .sync(Timeout(.milliseconds(30))), .async { c in
            log.record("stuck")
            let promise = c.eventLoop.makePromise(of: Void.self)
            release.withLockedValue { $0 = promise }
            // A future's `get()` does not end on cancellation: the handler goes on until the promise is kept.
            try await promise.futureResult.get()
            finishedContinuation.yield(Task.isCancelled)
            c.text(.ok, "too late\n")
        })
        try engine.get("/fast") { c async throws in
            log.record("fast")
            c.text(.ok, "fast\n")
        }
        try await withServer(engine) { port in
            let socket = try TestSocket(port: port)
            try await socket.send("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
            let timedOut = try await socket.readResponse()
            #expect(timedOut.status == 503)
            #expect(timedOut.text == #"{"error":"the request took longer than 30ms"}"#)
            // The stuck handler still runs, and the next request on the connection does not wait for it.
            try await socket.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().text == "fast\n")
            #expect(log.ids("stuck").count == 1)
            #expect(log.ids("fast").first != log.ids("stuck").first, "the given-up task serves no more requests")

            // Let the stuck handler end: it saw the cancellation, and its late answer goes nowhere.
            let promise = try #require(release.withLockedValue { $0 })
            promise.succeed()
            var iterator = finished.makeAsyncIterator()
            #expect(await iterator.next() == true)
            try await socket.send("GET /fast HTTP/1.1\r\nHost: x\r\n\r\n")
            let next = try await socket.readResponse()
            #expect(next.text == "fast\n", "the connection carries on with its new task, not the stuck one's answer")
            let fast = log.ids("fast")
            #expect(fast.count == 2 && fast[0] == fast[1])
        }
    }

    @Test func aWaitingTaskEndsWithItsConnection() async throws {
        weak var runner: AsyncChainRunner?
        let seen = NIOLockedValueBox<AsyncChainRunner?>(nil)
        let engine = Engine()
        try engine.get("/once") { c async throws in
            seen.withLockedValue { $0 = c.runner }
            c.text(.ok, "once\n")
        }
        try await withServer(engine) { port in
            let socket = try TestSocket(port: port)
            try await socket.send("GET /once HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(try await socket.readResponse().text == "once\n")
            runner = seen.withLockedValue { taken in
                defer { taken = nil }
                return taken
            }
            #expect(runner != nil)
            // The task now waits for a next request; the client leaves instead.
            socket.closeNow()
            #expect(try await eventually { runner == nil }, "the waiting task ended and let its runner go")
        }
    }
}
