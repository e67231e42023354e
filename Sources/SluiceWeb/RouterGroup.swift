public import SluiceRouter

/// A set of routes under a common path prefix with their own middleware (Gin's `RouterGroup`). Middleware added
/// with `use` applies to routes registered on the group afterwards, and to the groups made from it afterwards.
///
/// Every registration takes synchronous handlers (`{ c in … }`, the fast path), one async handler
/// (`{ c async throws in … }`), or any mix written as steps: `get("/x", .sync(auth), .async { c in … })`.
public class RouterGroup {
    let table: RouteTable
    let prefix: String
    private(set) var middleware: [HandlerStep]

    init(table: RouteTable, prefix: String, middleware: [HandlerStep]) {
        self.table = table
        self.prefix = prefix
        self.middleware = middleware
    }

    /// Adds middleware for the routes registered after this call.
    public func use(_ handlers: Handler...) {
        middleware.append(contentsOf: handlers.map(HandlerStep.sync))
    }

    /// Adds async middleware (it calls `try await c.next()`) for the routes registered after this call.
    public func use(_ handler: @escaping AsyncHandler) {
        middleware.append(.async(handler))
    }

    /// Adds middleware steps, sync or async, for the routes registered after this call.
    public func use(_ steps: HandlerStep...) {
        middleware.append(contentsOf: steps)
    }

    /// A group under `prefix` (relative to this group's), starting with this group's middleware plus `handlers`.
    public func group(_ prefix: String, _ handlers: Handler...) -> RouterGroup {
        RouterGroup(
            table: table, prefix: Self.join(self.prefix, prefix),
            middleware: middleware + handlers.map(HandlerStep.sync))
    }

    /// Registers a route for `method` (nil: any method). Throws a `RouterError` naming both routes if it conflicts
    /// with one already registered.
    public func handle(_ method: String?, _ path: String, _ steps: [HandlerStep]) throws(RouterError) {
        precondition(!steps.isEmpty, "a route needs at least one handler")
        let pattern = Self.join(prefix, path)
        try table.builder.add(method, pattern, HandlerChain(steps: middleware + steps, pattern: pattern))
    }

    /// Registers a route whose request body is not buffered: the chain starts as soon as the head is in, and the
    /// handler reads the body from `c.bodyStream` as it arrives, with back-pressure (`c.body` is nil). For uploads.
    ///
    /// ```swift
    /// try engine.streaming("PUT", "/files/:name") { c async throws in
    ///     for try await part in c.bodyStream { try await file.write(part) }
    ///     c.status(.created)
    /// }
    /// ```
    public func streaming(_ method: String?, _ path: String, _ steps: [HandlerStep]) throws(RouterError) {
        precondition(!steps.isEmpty, "a route needs at least one handler")
        let pattern = Self.join(prefix, path)
        var chain = HandlerChain(steps: middleware + steps, pattern: pattern)
        chain.streamsBody = true
        try table.builder.add(method, pattern, chain)
        table.hasStreamingRoutes = true
    }

    public func streaming(_ method: String?, _ path: String, _ handler: @escaping AsyncHandler) throws(RouterError) {
        try streaming(method, path, [.async(handler)])
    }

    /// Registers synchronous handlers for `method`.
    public func handle(_ method: String?, _ path: String, _ handlers: [Handler]) throws(RouterError) {
        try handle(method, path, handlers.map(HandlerStep.sync))
    }

    public func get(_ path: String, _ handlers: Handler...) throws(RouterError) { try handle("GET", path, handlers) }
    public func get(_ path: String, _ handler: @escaping AsyncHandler) throws(RouterError) {
        try handle("GET", path, [.async(handler)])
    }
    public func get(_ path: String, _ steps: HandlerStep...) throws(RouterError) { try handle("GET", path, steps) }

    public func post(_ path: String, _ handlers: Handler...) throws(RouterError) { try handle("POST", path, handlers) }
    public func post(_ path: String, _ handler: @escaping AsyncHandler) throws(RouterError) {
        try handle("POST", path, [.async(handler)])
    }
    public func post(_ path: String, _ steps: HandlerStep...) throws(RouterError) { try handle("POST", path, steps) }

    public func put(_ path: String, _ handlers: Handler...) throws(RouterError) { try handle("PUT", path, handlers) }
    public func put(_ path: String, _ handler: @escaping AsyncHandler) throws(RouterError) {
        try handle("PUT", path, [.async(handler)])
    }
    public func put(_ path: String, _ steps: HandlerStep...) throws(RouterError) { try handle("PUT", path, steps) }

    public func delete(_ path: String, _ handlers: Handler...) throws(RouterError) {
        try handle("DELETE", path, handlers)
    }
    public func delete(_ path: String, _ handler: @escaping AsyncHandler) throws(RouterError) {
        try handle("DELETE", path, [.async(handler)])
    }
    public func delete(_ path: String, _ steps: HandlerStep...) throws(RouterError) {
        try handle("DELETE", path, steps)
    }

    public func patch(_ path: String, _ handlers: Handler...) throws(RouterError) { try handle("PATCH", path, handlers) }
    public func patch(_ path: String, _ handler: @escaping AsyncHandler) throws(RouterError) {
        try handle("PATCH", path, [.async(handler)])
    }
    public func patch(_ path: String, _ steps: HandlerStep...) throws(RouterError) {
        try handle("PATCH", path, steps)
    }

    public func head(_ path: String, _ handlers: Handler...) throws(RouterError) { try handle("HEAD", path, handlers) }
    public func options(_ path: String, _ handlers: Handler...) throws(RouterError) {
        try handle("OPTIONS", path, handlers)
    }
    /// A route for every method; a route for a specific method on the same path wins over it.
    public func any(_ path: String, _ handlers: Handler...) throws(RouterError) { try handle(nil, path, handlers) }
    public func any(_ path: String, _ handler: @escaping AsyncHandler) throws(RouterError) {
        try handle(nil, path, [.async(handler)])
    }

    static func join(_ prefix: String, _ path: String) -> String {
        if path.isEmpty { return prefix.isEmpty ? "/" : prefix }
        if prefix.isEmpty || prefix == "/" { return path.hasPrefix("/") ? path : "/" + path }
        let head = prefix.hasSuffix("/") ? String(prefix.dropLast()) : prefix
        return head + (path.hasPrefix("/") ? path : "/" + path)
    }
}

/// The routes being registered, shared by an engine and all its groups.
final class RouteTable {
    var builder = RouterBuilder<HandlerChain>()
    /// Some route streams its request body: connections look requests up at their head.
    var hasStreamingRoutes = false
}
