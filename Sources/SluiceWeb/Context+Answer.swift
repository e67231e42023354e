public import NIOCore
public import NIOHTTP1
import NIOConcurrencyHelpers

extension Context {
    /// Sets the status, with an empty body.
    public func status(_ status: HTTPResponseStatus) {
        responseStatus = status
        responseBody = nil
        responseFile = nil
    }

    /// Sets a response header, replacing any value it had.
    public func setHeader(_ name: String, _ value: String) {
        reserveHeaders()
        responseHeaders.replaceOrAdd(name: name, value: value)
    }

    /// Adds a response header, keeping any value it had.
    public func addHeader(_ name: String, _ value: String) {
        reserveHeaders()
        responseHeaders.add(name: name, value: value)
    }

    /// Adds a field the framework made from values known to be valid (a constant name, a number): fields that were
    /// known valid stay so.
    func addKnownValidHeader(_ name: String, _ value: String) {
        keepingFieldsValid { addHeader(name, value) }
    }

    /// Runs a change to the fields that only writes values known to be valid.
    @inline(__always)
    func keepingFieldsValid(_ change: () -> Void) {
        let valid = fieldsKnownValid
        change()
        fieldsKnownValid = valid
    }

    /// The answer's fields get their storage at the first one, with room for the usual few: a context whose answer
    /// has no field of its own makes none, and one that gets several does not regrow it field by field.
    @inline(__always)
    func reserveHeaders() {
        if responseHeaders.isEmpty { responseHeaders.reserveCapacity(Self.headerRoom) }
    }

    /// Room for the fields of a usual answer (its own few, then `content-length`, `date`, `connection`).
    static var headerRoom: Int { 6 }

    /// Answers `status` with `value` encoded as JSON.
    public func json(_ status: HTTPResponseStatus, _ value: some Encodable) throws {
        var buffer = allocator.buffer(capacity: 256)
        try JSONStreamEncoder.shared.encode(value, into: &buffer)
        keepingFieldsValid { data(status, contentType: "application/json; charset=utf-8", buffer) }
    }

    /// Answers `status` with `text` as `text/plain`.
    public func text(_ status: HTTPResponseStatus, _ text: String) {
        keepingFieldsValid { data(status, contentType: "text/plain; charset=utf-8", allocator.buffer(string: text)) }
    }

    /// Answers `status` with `bytes` of the given content type.
    public func data(_ status: HTTPResponseStatus, contentType: String, _ bytes: ByteBuffer) {
        responseStatus = status
        if hasContentType {
            responseHeaders.replaceOrAdd(name: "content-type", value: contentType)
        } else if responseHeaders.isEmpty {
            // The usual answer's first field: its storage made with room for the rest, without `add`'s checks.
            var fields: [(String, String)] = []
            fields.reserveCapacity(Self.headerRoom)
            fields.append(("content-type", contentType))
            responseHeaders = HTTPHeaders(fields)
            hasContentType = true
        } else {
            responseHeaders.add(name: "content-type", value: contentType)
            hasContentType = true
        }
        responseFile = nil
        responseBody = bytes
    }

    /// Answers with a redirect to `location` (Gin's `Redirect`): 302 by default; 301, 303, 307 and 308 too.
    public func redirect(_ status: HTTPResponseStatus = .found, to location: String) {
        precondition((300..<400).contains(status.code), "a redirect needs a 3xx status")
        responseStatus = status
        responseBody = nil
        responseFile = nil
        responseHeaders.replaceOrAdd(name: "location", value: location)
    }

    /// Keeps the connection waiting after the handlers return: the answer goes out when `finish` is called on the
    /// returned value, from any thread. Handlers use it for timers and for work done elsewhere; async handlers
    /// simply `await` instead.
    public func respondLater() -> PendingResponse {
        pending = true
        return PendingResponse(context: NIOLoopBound(self, eventLoop: eventLoop))
    }

    /// Sends the answer built so far, once: later calls (a timed-out handler finishing after all) do nothing.
    func sendIfUnanswered() {
        guard !answered else { return }
        connection?.send(self)
    }
}

/// An answer that a handler will give later; see `Context.respondLater()`. Finish it exactly once.
public struct PendingResponse: Sendable {
    let context: NIOLoopBound<Context>

    /// Hops to the request's event loop, lets `body` set the answer, then sends it. Does nothing if the request was
    /// already answered (a `Timeout` fired).
    public func finish(_ body: @escaping @Sendable (Context) -> Void) {
        context.eventLoop.execute {
            let context = self.context.value
            guard !context.answered else { return }
            body(context)
            context.pending = false
            context.sendIfUnanswered()
        }
    }

    /// Finishes after `delay`, on the event loop, without blocking it.
    public func finish(after delay: TimeAmount, _ body: @escaping @Sendable (Context) -> Void) {
        context.eventLoop.scheduleTask(in: delay) { finish(body) }
    }
}

/// A file, or part of one, sent as the body with `sendfile` where the channel allows it.
struct FileBody {
    let handle: NIOFileHandle
    let region: FileRegion
}
