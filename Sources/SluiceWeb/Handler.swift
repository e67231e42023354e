/// A handler or middleware: Gin's `HandlerFunc`. It runs on the event loop of the request's connection, so it
/// must not block; a handler that waits for something is an `AsyncHandler` (or calls `Context.respondLater()`).
///
/// Middleware is a handler that calls `try c.next()` to run the rest of the chain, with code before and after it,
/// or does not call it (or calls `c.abort()`) to stop the chain. A thrown error travels back up through `next()`,
/// so `Recovery` can catch it; an error nobody catches becomes an answer (`HTTPResponseError`s their own status,
/// anything else 500).
public typealias Handler = @Sendable (Context) throws -> Void

/// A handler that may suspend: `engine.get("/users/:id") { c async throws in … }`. It runs on the connection's event
/// loop, in the connection's one task (`AsyncChainRunner`) with a task executor bound to that loop, so there is no
/// thread hop per request and the `Context` stays on its loop across `await`s. The request's async part is cancelled
/// when the client goes away or a `Timeout` fires (the next request then gets a new task).
///
/// Async middleware calls `try await c.next()` and wraps the whole rest of the chain, async handlers included. A
/// synchronous middleware's code after `try c.next()` runs when the synchronous part of the chain has returned, which
/// is before any async handler after it has run: use `c.onFinish` (or write the middleware async) for work after the
/// answer.
///
/// `nonisolated(nonsending)`: it runs on the executor of whoever calls it (the connection's task, on its loop), so
/// entering a handler is a plain call and not an executor switch.
public typealias AsyncHandler = nonisolated(nonsending) @Sendable (Context) async throws -> Void

/// One element of a route's chain: a synchronous handler or an async one.
public enum HandlerStep: Sendable {
    case sync(Handler)
    case async(AsyncHandler)

    var isAsync: Bool {
        if case .async = self { return true }
        return false
    }
}

/// A route's handlers, composed once when the route is registered: group middleware first, then the route's own.
struct HandlerChain: Sendable {
    let steps: [HandlerStep]
    /// The pattern as registered, e.g. `/api/v1/users/:id` (Gin's `FullPath()`).
    let pattern: String
    /// The chain starts at the request's head and reads the body from `c.bodyStream` (`RouterGroup.streaming`).
    var streamsBody = false
}
