/// A handler or middleware: Gin's `HandlerFunc`. It runs on the event loop of the request's connection, so it
/// must not block; a handler that waits for something calls `Context.respondLater()`.
///
/// Middleware is a handler that calls `try c.next()` to run the rest of the chain, with code before and after it,
/// or does not call it (or calls `c.abort()`) to stop the chain. A thrown error travels back up through `next()`,
/// so `Recovery` can catch it; an error nobody catches becomes a 500.
public typealias Handler = @Sendable (Context) throws -> Void

/// A route's handlers, composed once when the route is registered: group middleware first, then the route's own.
struct HandlerChain: Sendable {
    let handlers: [Handler]
    /// The pattern as registered, e.g. `/api/v1/users/:id` (Gin's `FullPath()`).
    let pattern: String
}
