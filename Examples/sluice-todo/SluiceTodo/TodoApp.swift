public import SluiceTraffic
public import SluiceWeb

/// The todo API: `GET/POST /todos`, `GET/PATCH/DELETE /todos/:id`, health endpoints, a rate limit per client.
public enum TodoApp {
    struct NewTodo: Decodable {
        let title: String
        let done: Bool?
    }

    struct TodoChange: Decodable {
        let title: String?
        let done: Bool?
    }

    /// The engine for `store`, with `rateLimit` requests per second per client on the API.
    public static func makeEngine(
        store: TodoStore, instance: InstanceInfo = InstanceInfo(name: "sluice-todo"),
        rateLimit: RateLimitPolicy = RateLimitPolicy(count: 100, per: .seconds(1), burst: 200)
    ) throws -> Engine {
        let engine = Engine.default()
        engine.instance = instance
        try engine.health()
        let api = engine.group("/todos", RateLimit(rateLimit, key: .clientIP), BodyLimit(64 * 1024))
        try api.get("") { c async throws in
            let limit = try c.query("limit", as: Int.self) ?? 100
            guard (1...1000).contains(limit) else {
                throw BindingError(field: nil, problem: "query parameter \"limit\" must be between 1 and 1000")
            }
            try c.json(.ok, try await store.all(limit: limit))
        }
        try api.post("") { c async throws in
            let new = try c.bind(NewTodo.self)
            try validate(title: new.title)
            let todo = try await store.insert(title: new.title, done: new.done ?? false)
            c.setHeader("location", "/todos/\(todo.id ?? 0)")
            try c.json(.created, todo)
        }
        try api.get("/:id") { c async throws in
            let id = try c.param("id", as: Int64.self)
            guard let todo = try await store.find(id) else { throw HTTPError(.notFound, "todo \(id) does not exist") }
            try c.json(.ok, todo)
        }
        try api.patch("/:id") { c async throws in
            let id = try c.param("id", as: Int64.self)
            let change = try c.bind(TodoChange.self)
            if let title = change.title { try validate(title: title) }
            guard let todo = try await store.update(id, title: change.title, done: change.done) else {
                throw HTTPError(.notFound, "todo \(id) does not exist")
            }
            try c.json(.ok, todo)
        }
        try api.delete("/:id") { c async throws in
            let id = try c.param("id", as: Int64.self)
            guard try await store.delete(id) else { throw HTTPError(.notFound, "todo \(id) does not exist") }
            c.status(.noContent)
        }
        return engine
    }

    static func validate(title: String) throws(BindingError) {
        let trimmed = title.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty else { throw BindingError(field: "title", problem: "must not be empty") }
        guard title.count <= 200 else { throw BindingError(field: "title", problem: "is longer than 200 characters") }
    }
}
