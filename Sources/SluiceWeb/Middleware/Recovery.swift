public import Logging

/// Catches an error thrown by a later handler, logs it and answers 500 (Gin's `Recovery`). Swift traps
/// (`fatalError`, overflow) cannot be caught; errors can.
public func Recovery(logger: Logger) -> Handler {
    { c in
        do {
            try c.next()
        } catch {
            logger.error(
                "handler error",
                metadata: ["method": "\(c.method.rawValue)", "path": "\(c.path)", "error": "\(error)"])
            c.abort()
            c.text(.internalServerError, "500 internal server error\n")
        }
    }
}
