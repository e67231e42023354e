public import NIOCore
public import NIOHTTP1

/// Writes the parts of a streamed answer; see `Context.stream`.
public struct ResponseWriter: Sendable {
    let context: Context

    /// Writes `part` and flushes it; returns when the connection took it (so a slow client slows the writer down).
    /// Throws `CancellationError` once the client is gone.
    public func write(_ part: ByteBuffer) async throws {
        guard part.readableBytes > 0 else { return }
        guard let connection = context.connection else { throw CancellationError() }
        if let gzip = context.gzipStream {
            guard let compressed = gzip.compress(part, finish: false, allocator: context.allocator) else {
                throw HTTPError(.internalServerError, "compression failed")
            }
            try await connection.writeStream(context, compressed)
        } else {
            try await connection.writeStream(context, part)
        }
    }

    public func write(_ text: String) async throws {
        try await write(context.allocator.buffer(string: text))
    }
}

/// Sends server-sent events; see `Context.eventStream`.
public struct EventWriter: Sendable {
    let writer: ResponseWriter

    /// Sends one event. `data` may span lines; `event` and `id` lose any CR or LF (they would end the field).
    public func send(data: String, event: String? = nil, id: String? = nil, retry: Int? = nil) async throws {
        var text = ""
        if let event { text += "event: " + Self.oneLine(event) + "\n" }
        if let id { text += "id: " + Self.oneLine(id).filter { $0 != "\0" } + "\n" }
        if let retry { text += "retry: \(retry)\n" }
        var line = ""
        for character in data {
            if character == "\r\n" || character == "\n" || character == "\r" {
                text += "data: " + line + "\n"
                line = ""
            } else {
                line.append(character)
            }
        }
        text += "data: " + line + "\n\n"
        try await writer.write(text)
    }

    /// A comment line, which clients ignore: keeps idle proxies from closing the stream.
    public func keepAlive(_ comment: String = "") async throws {
        try await writer.write(": " + Self.oneLine(comment) + "\n\n")
    }

    static func oneLine(_ text: String) -> String { text.filter { $0 != "\r" && $0 != "\n" && $0 != "\r\n" } }
}

extension Context {
    /// Streams the answer: the head goes out at once (chunked), then every `writer.write` as it is made. For large or
    /// slow answers (exports, progress, tails). An error thrown after the head went out closes the connection, as
    /// the client can no longer be told the status.
    public func stream(
        _ status: HTTPResponseStatus = .ok, contentType: String,
        _ body: (ResponseWriter) async throws -> Void
    ) async throws {
        guard let connection else { throw HTTPError(.internalServerError, "stream needs an async handler") }
        responseStatus = status
        responseBody = nil
        responseFile = nil
        responseHeaders.replaceOrAdd(name: "content-type", value: contentType)
        startStreamCompressionIfAsked()
        connection.startStream(self)
        do {
            try await body(ResponseWriter(context: self))
            // The gzip member's end (and trailer), if the answer is compressed.
            if let gzip = gzipStream, let last = gzip.compress(ByteBuffer(), finish: true, allocator: allocator),
                last.readableBytes > 0
            {
                try await connection.writeStream(self, last)
            }
        } catch {
            responseHeaders.replaceOrAdd(name: "connection", value: "close")
            connection.endStream(self)
            throw error
        }
        connection.endStream(self)
    }

    /// Server-sent events (`text/event-stream`, the browser's `EventSource`): no caching, no proxy buffering
    /// (`X-Accel-Buffering: no`, which nginx honours).
    public func eventStream(_ body: (EventWriter) async throws -> Void) async throws {
        responseHeaders.replaceOrAdd(name: "cache-control", value: "no-cache")
        responseHeaders.replaceOrAdd(name: "x-accel-buffering", value: "no")
        try await stream(contentType: "text/event-stream") { writer in try await body(EventWriter(writer: writer)) }
    }
}
