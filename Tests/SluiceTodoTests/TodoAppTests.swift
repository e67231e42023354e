import Foundation
import NIOHTTP1
import SluiceTestSupport
import SluiceTodo
import SluiceWeb
import Testing

@Suite struct TodoAppTests {
    @Test func crudValidationAndDataThatSurvivesARestart() async throws {
        let directory = try makeTemporaryDirectory("sluice-todo")
        let path = directory + "/todos.sqlite"
        var store = try TodoStore(path: path)
        try await TodoApp.makeEngine(store: store).test { client in
            let made = try await client.post("/todos", #"{"title":"buy milk"}"#)
            #expect(made.status == .created)
            #expect(made.text == #"{"id":1,"title":"buy milk","done":false}"#)
            #expect(made.header("location") == "/todos/1")
            _ = try await client.post("/todos", "title=call+mum&done=true", contentType: "application/x-www-form-urlencoded")
            let list = try await client.get("/todos")
            #expect(list.text == #"[{"id":1,"title":"buy milk","done":false},{"id":2,"title":"call mum","done":true}]"#)
            let changed = try await client.patch("/todos/1", #"{"done":true}"#)
            #expect(changed.text == #"{"id":1,"title":"buy milk","done":true}"#)
            #expect(try await client.delete("/todos/2").status == .noContent)
            let gone = try await client.get("/todos/2")
            #expect(gone.status == .notFound)
            #expect(gone.text == #"{"error":"todo 2 does not exist"}"#)
            let errors: [(String, String, String)] = [
                ("POST", #"{"done":true}"#, #"field \"title\": is required"#),
                ("POST", #"{"title":"  "}"#, #"field \"title\": must not be empty"#),
                ("POST", #"{"title":7}"#, #"field \"title\": expected a string"#),
                ("PATCH", #"{"done":"yes"}"#, #"field \"done\": expected a boolean"#),
            ]
            for (method, body, message) in errors {
                let answer = method == "POST"
                    ? try await client.post("/todos", body) : try await client.patch("/todos/1", body)
                #expect(answer.status == .badRequest, "\(body)")
                #expect(answer.text == #"{"error":"\#(message)"}"#, "\(body)")
            }
            #expect(try await client.get("/todos/abc").text == #"{"error":"path parameter \"id\": \"abc\" is not a valid integer"}"#)
            #expect(try await client.get("/todos?limit=0").status == .badRequest)
        }
        // A restart: the same file, a new store and engine.
        try store.close()
        store = try TodoStore(path: path)
        try await TodoApp.makeEngine(store: store).test { client in
            let list = try await client.get("/todos")
            #expect(list.text == #"[{"id":1,"title":"buy milk","done":true}]"#)
        }
        try store.close()
    }

    @Test func healthAndTheRateLimit() async throws {
        let directory = try makeTemporaryDirectory("sluice-todo")
        let store = try TodoStore(path: directory + "/todos.sqlite")
        let engine = try TodoApp.makeEngine(
            store: store, instance: InstanceInfo(name: "todo-a", zone: "az1"),
            rateLimit: .init(count: 2, per: .seconds(60)))
        try await engine.test { client in
            let health = try await client.get("/healthz")
            #expect(health.text == #"{"status":"ok","instance":"todo-a","zone":"az1"}"#)

            #expect(try await client.get("/todos").status == .ok)
            #expect(try await client.get("/todos").status == .ok)
            #expect(try await client.get("/todos").status == .tooManyRequests)
        }
        try store.close()
    }
}
