public import NIOHTTP1
import NIOCore
import Logging

extension Context {
    private static let abortIndex = Int.max / 2
    /// Past every chain's end but below `abortIndex`: every running `next()` loop ends, and the chain is not aborted.
    private static let suspendIndex = Int.max / 4

    /// Runs the rest of the chain (Gin's `Next`). Code after it runs once the handlers after this one returned.
    ///
    /// When it reaches an async handler it stops there: the rest of the chain runs in a task on this loop once the
    /// synchronous part has returned.
    public func next() throws {
        index += 1
        while index < steps.count {
            switch steps[index] {
            case .sync(let handler):
                try handler(self)
            case .async:
                resumeIndex = index
                index = Self.suspendIndex
                return
            }
            index += 1
        }
    }

    /// Runs the rest of the chain, awaiting its async handlers: the `next()` of async middleware, which wraps
    /// everything after it.
    nonisolated(nonsending) public func next() async throws {
        index += 1
        while index < steps.count {
            switch steps[index] {
            case .sync(let handler):
                try handler(self)
                // A synchronous middleware's own `next()` stopped at an async handler: carry on from there.
                if let resume = resumeIndex, index == Self.suspendIndex {
                    resumeIndex = nil
                    index = resume - 1
                    try await next()
                    return
                }
            case .async(let handler):
                try await handler(self)
            }
            index += 1
        }
    }

    /// Stops the chain: handlers after the current one do not run (Gin's `Abort`).
    public func abort() { index = Self.abortIndex }

    /// Stops the chain and answers `status` with an empty body.
    public func abort(with status: HTTPResponseStatus) {
        self.status(status)
        abort()
    }

    public var isAborted: Bool { index >= Self.abortIndex }

    /// Runs the part of the chain left after the synchronous dispatch stopped at an async handler. In a task on the
    /// connection's loop.
    @inline(__always)
    nonisolated(nonsending) func runSuspendedChain() async {
        do {
            while let resume = resumeIndex, !isAborted {
                resumeIndex = nil
                if resume == steps.count - 1, case .async(let handler) = steps[resume] {
                    // The route's own handler, last in its chain (the common case): called directly, as `next()`
                    // would, without its frame and the executor check after each of its awaits.
                    index = resume
                    try await handler(self)
                    continue
                }
                index = resume - 1
                try await next()
            }
        } catch {
            answer(error)
        }
        resumeIndex = nil
    }

    /// Answers an error nobody handled: an `HTTPResponseError` with its own status and message, anything else a
    /// logged 500 (the client learns nothing of it).
    func answer(_ error: any Error, logger: Logger? = nil) {
        pending = false
        if answered {
            // The answer (or a stream's head) already went out: nothing more can be said to the client.
            if !(error is CancellationError) {
                (logger ?? self.logger).warning(
                    "handler error after the answer", metadata: ["path": "\(path)", "error": "\(error)"])
            }
            return
        }
        if let error = error as? any HTTPResponseError {
            errorAnswer(error.status, error.message)
            return
        }
        if error is CancellationError {
            // The client went away or a `Timeout` fired (and answered): nobody to tell, nothing to log as a failure.
            text(.serviceUnavailable, "503 request cancelled\n")
            return
        }
        (logger ?? self.logger).error(
            "handler error", metadata: ["method": "\(method.rawValue)", "path": "\(path)", "error": "\(error)"])
        text(.internalServerError, "500 internal server error\n")
    }

    /// `{"error": message}` with `status`, replacing whatever answer was being built.
    func errorAnswer(_ status: HTTPResponseStatus, _ message: String) {
        responseFile = nil
        var buffer = allocator.buffer(capacity: message.utf8.count + 16)
        try? JSONStreamEncoder.shared.encode(["error": message], into: &buffer)
        keepingFieldsValid { data(status, contentType: "application/json; charset=utf-8", buffer) }
    }
}
