public import Logging

/// Catches an error thrown by a later handler and answers it (Gin's `Recovery`): an `HTTPResponseError` (a binding
/// error, `HTTPError`) with its own status and message, anything else logged and answered 500. Swift traps
/// (`fatalError`, overflow) cannot be caught; errors can.
///
/// In a route with async handlers, errors they throw are answered the same way by the connection itself, so
/// `Recovery` need not be async.
public func Recovery(logger: Logger) -> Handler {
    { c in
        do {
            try c.next()
        } catch {
            c.abort()
            c.answer(error, logger: logger)
        }
    }
}
