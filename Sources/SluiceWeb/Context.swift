public import Logging
public import NIOCore
public import NIOHTTP1
public import SluiceRouter
import NIOConcurrencyHelpers

/// One request and the answer being built for it (Gin's `*gin.Context`). Lives on the event loop of its connection:
/// never hand it to another thread; use `respondLater()` to answer from elsewhere.
public final class Context {
    // MARK: Request

    public let method: HTTPMethod
    /// The request target as sent: path and query, still percent-encoded.
    public let uri: String
    public let version: HTTPVersion
    /// The request headers.
    public let headers: HTTPHeaders
    /// The request body, if one was sent.
    public let body: ByteBuffer?
    /// The client's address as seen on the socket.
    public var remoteAddress: SocketAddress? { channel.remoteAddress }
    let channel: any Channel
    public let eventLoop: any EventLoop
    /// Parameters captured by the route's pattern, raw; `param(_:)` decodes them.
    public let parameters: Parameters
    /// The matched route's pattern (`/api/v1/users/:id`), or nil when no route matched (404/405).
    public let fullPath: String?
    public var logger: Logger
    /// The request id, once the `RequestID` middleware has run.
    public var requestID: String?
    /// Whether the client's request allows keeping the connection open.
    let requestKeepAlive: Bool
    /// When the request was fully received.
    public let startTime: NIODeadline

    // MARK: Response

    public var responseStatus: HTTPResponseStatus = .ok
    public var responseHeaders: HTTPHeaders
    public internal(set) var responseBody: ByteBuffer?

    // MARK: Chain

    private let handlers: [Handler]
    private var index = -1
    private static let abortIndex = Int.max / 2
    private var values: [String: any Sendable] = [:]
    var finishHooks: [(Context) -> Void] = []
    /// Set by `respondLater()`: the connection waits for `PendingResponse.finish`.
    var pending = false
    let allocator: ByteBufferAllocator
    weak var connection: EngineChannelHandler?

    init(
        head: HTTPRequestHead, body: ByteBuffer?, channel: any Channel, eventLoop: any EventLoop,
        allocator: ByteBufferAllocator, parameters: Parameters, route: HandlerChain?, handlers: [Handler],
        logger: Logger
    ) {
        self.method = head.method
        self.uri = head.uri
        self.version = head.version
        self.headers = head.headers
        self.body = body
        self.channel = channel
        var responseHeaders = HTTPHeaders()
        responseHeaders.reserveCapacity(6)  // the usual answer's headers, without regrowing
        self.responseHeaders = responseHeaders
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.parameters = parameters
        self.fullPath = route?.pattern
        self.handlers = handlers
        self.logger = logger
        self.requestKeepAlive = head.isKeepAlive
        self.startTime = .now()
    }

    /// The path part of the target, without the query, still percent-encoded.
    public var path: Substring {
        if let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) { return uri[..<question] }
        return uri[...]
    }

    /// The query string after `?`, or empty.
    public var queryString: Substring {
        guard let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) else { return "" }
        return uri[uri.utf8.index(after: question)...]
    }

    /// The route parameter `name`, percent-decoded.
    public func param(_ name: String) -> String? { parameters.decoded(name) }

    /// The first value of query parameter `name`, decoded (`+` is a space).
    public func query(_ name: String) -> String? { QueryString.value(of: name, in: queryString) }

    /// The first value of the request header `name` (Gin's `GetHeader`).
    public func header(_ name: String) -> String? { headers.first(name: name) }

    /// The client's address as seen on the socket.
    public var clientIP: String? { remoteAddress?.ipAddress }

    // MARK: Chain control

    /// Runs the rest of the chain (Gin's `Next`). Code after it runs once the handlers after this one returned.
    public func next() throws {
        index += 1
        while index < handlers.count {
            try handlers[index](self)
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

    /// Stores a value for later handlers of this request (Gin's `Set`).
    public func set(_ key: String, _ value: any Sendable) { values[key] = value }

    /// A value stored by an earlier handler (Gin's `Get`).
    public func get(_ key: String) -> (any Sendable)? { values[key] }

    /// Runs `hook` once the answer has been handed to the connection: for access logs and timings.
    public func onFinish(_ hook: @escaping (Context) -> Void) { finishHooks.append(hook) }

    // MARK: Answering

    /// Sets the status, with an empty body.
    public func status(_ status: HTTPResponseStatus) {
        responseStatus = status
        responseBody = nil
    }

    /// Sets a response header, replacing any value it had.
    public func setHeader(_ name: String, _ value: String) { responseHeaders.replaceOrAdd(name: name, value: value) }

    /// Answers `status` with `value` encoded as JSON.
    public func json(_ status: HTTPResponseStatus, _ value: some Encodable) throws {
        var buffer = allocator.buffer(capacity: 256)
        try JSONStreamEncoder.shared.encode(value, into: &buffer)
        data(status, contentType: "application/json; charset=utf-8", buffer)
    }

    /// Answers `status` with `text` as `text/plain`.
    public func text(_ status: HTTPResponseStatus, _ text: String) {
        data(status, contentType: "text/plain; charset=utf-8", allocator.buffer(string: text))
    }

    /// Answers `status` with `bytes` of the given content type.
    public func data(_ status: HTTPResponseStatus, contentType: String, _ bytes: ByteBuffer) {
        responseStatus = status
        if hasContentType {
            responseHeaders.replaceOrAdd(name: "content-type", value: contentType)
        } else {
            responseHeaders.add(name: "content-type", value: contentType)
            hasContentType = true
        }
        responseBody = bytes
    }

    private var hasContentType = false

    /// Keeps the connection waiting after the handlers return: the answer goes out when `finish` is called on the
    /// returned value, from any thread. Handlers use it for timers and for work done elsewhere.
    public func respondLater() -> PendingResponse {
        pending = true
        return PendingResponse(context: NIOLoopBound(self, eventLoop: eventLoop))
    }
}

/// An answer that a handler will give later; see `Context.respondLater()`. Finish it exactly once.
public struct PendingResponse: Sendable {
    let context: NIOLoopBound<Context>

    /// Hops to the request's event loop, lets `body` set the answer, then sends it.
    public func finish(_ body: @escaping @Sendable (Context) -> Void) {
        context.eventLoop.execute {
            let context = self.context.value
            body(context)
            context.pending = false
            context.connection?.send(context)
        }
    }

    /// Finishes after `delay`, on the event loop, without blocking it.
    public func finish(after delay: TimeAmount, _ body: @escaping @Sendable (Context) -> Void) {
        context.eventLoop.scheduleTask(in: delay) { finish(body) }
    }
}

/// Reading `application/x-www-form-urlencoded` query strings.
enum QueryString {
    static func value(of name: String, in query: Substring) -> String? {
        for pair in query.split(separator: "&", omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: "=")
            let key = equals.map { pair[..<$0] } ?? pair[...]
            guard decode(key) == name else { continue }
            return equals.map { decode(pair[pair.index(after: $0)...]) } ?? ""
        }
        return nil
    }

    static func decode(_ text: Substring) -> String {
        let spaced = text.contains("+") ? Substring(text.replacing("+", with: " ")) : text
        return PercentDecoding.decode(spaced) ?? String(spaced)
    }
}
