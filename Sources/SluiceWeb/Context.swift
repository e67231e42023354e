public import Logging
public import NIOCore
public import NIOHTTP1
public import SluiceRouter

/// One request and the answer being built for it (Gin's `*gin.Context`).
///
/// A context belongs to the event loop of its connection. Synchronous handlers run on that loop; async handlers run
/// on a task executor bound to it, so they too touch the context only from the loop's thread. Do not hand a context
/// to another thread or to a detached task: answer from elsewhere with `respondLater()`. (It is `Sendable` so that
/// async handlers can take it; that promise rests on this rule.)
///
/// The state a request changes is marked `@exclusivity(unchecked)`: it is touched from one thread and never lent out
/// while it is being changed, and the dynamic check each access to a class's `var` costs (about 75 instructions, some
/// 40 times per request) was a tenth of a small request's instructions.
public final class Context: @unchecked Sendable {
    // MARK: Request

    public let method: HTTPMethod
    /// The request target as sent: path and query, still percent-encoded.
    public let uri: String
    public let version: HTTPVersion
    /// The request headers.
    public let headers: HTTPHeaders
    /// The request body, if one was sent (buffered up to the server's `maxBodySize`); nil on `streaming` routes,
    /// whose body is read from `bodyStream`.
    public let body: ByteBuffer?
    /// The body of a `streaming` route as it arrives.
    @exclusivity(unchecked) var liveBody: RequestBodyStream?
    /// The request body in parts as it arrives (`streaming` routes), or the buffered `body` as one part.
    public var bodyStream: RequestBodyStream { liveBody ?? RequestBodyStream(storage: .buffered(body)) }
    /// The client's address as seen on the socket (nil in the in-process test client unless it sets one).
    public var remoteAddress: SocketAddress? { channel?.remoteAddress ?? givenRemoteAddress }
    let channel: (any Channel)?
    let givenRemoteAddress: SocketAddress?
    public let eventLoop: any EventLoop
    /// Parameters captured by the route's pattern, raw; `param(_:)` decodes them.
    public let parameters: Parameters
    /// The matched route's pattern (`/api/v1/users/:id`), or nil when no route matched (404/405).
    public let fullPath: String?
    @exclusivity(unchecked) public var logger: Logger
    /// The request id, once the `RequestID` middleware has run.
    @exclusivity(unchecked) public var requestID: String?
    /// Whether the client's request allows keeping the connection open.
    let requestKeepAlive: Bool
    /// When the request was fully received.
    public let startTime: NIODeadline
    /// When the answer is due, if a `Timeout` middleware set one. Outbound calls made for this request take it as
    /// theirs; `Task.isCancelled` turns true in async handlers when it passes.
    @exclusivity(unchecked) public internal(set) var deadline: NIODeadline?

    // MARK: Response

    @exclusivity(unchecked) public var responseStatus: HTTPResponseStatus = .ok
    @exclusivity(unchecked) public var responseHeaders: HTTPHeaders {
        // Any change from outside the framework's own writes (`keepingFieldsValid`) means the fields are checked
        // before they are sent.
        didSet { fieldsKnownValid = false }
    }
    /// Whether every response field was written by the framework from values known to be valid (a constant content
    /// type, a number): the check before sending (`refuseInvalidHeaders`) is then skipped.
    @exclusivity(unchecked) var fieldsKnownValid = true
    @exclusivity(unchecked) public internal(set) var responseBody: ByteBuffer?
    /// A file (or part of one) to send as the body; see `file(_:)`.
    @exclusivity(unchecked) var responseFile: FileBody?
    @exclusivity(unchecked) var hasContentType = false
    /// Set by the `Gzip` middleware.
    @exclusivity(unchecked) var gzip: GzipPolicy?
    /// A streamed answer being compressed.
    @exclusivity(unchecked) var gzipStream: GzipStream?

    // MARK: Chain

    let steps: [HandlerStep]
    @exclusivity(unchecked) var index = -1
    /// Where a synchronous `next()` stopped on reaching an async handler; the connection continues from there in a
    /// task on the loop.
    @exclusivity(unchecked) var resumeIndex: Int?
    @exclusivity(unchecked) var values: [String: any Sendable] = [:]
    @exclusivity(unchecked) var finishHooks: [(Context) -> Void] = []
    /// Set by `respondLater()`: the connection waits for `PendingResponse.finish`.
    @exclusivity(unchecked) var pending = false
    /// What runs the async part of the chain, if there is one: told to cancel it when the client goes away or a
    /// `Timeout` fires (`cancelAsyncPart`).
    @exclusivity(unchecked) var runner: AsyncChainRunner?
    /// Set once the answer (or a streamed answer's head) went to the connection: later answers are ignored.
    @exclusivity(unchecked) var answered = false
    /// Set once the whole answer (a streamed one's end included) went to the connection.
    @exclusivity(unchecked) var done = false
    let allocator: ByteBufferAllocator
    /// Where the answer goes: the connection's channel handler, or the in-process test client.
    ///
    /// Held strongly: a weak reference gives the connection's handler a side table, and makes every retain and
    /// release of it take the slow path. No cycle outlives the answer: the handler lets its `current` go when the
    /// answer is out or the connection ends.
    @exclusivity(unchecked) var connection: (any ResponseSink)?

    init(
        head: HTTPRequestHead, body: ByteBuffer?, channel: (any Channel)?, remoteAddress: SocketAddress? = nil,
        eventLoop: any EventLoop, allocator: ByteBufferAllocator, parameters: Parameters, route: HandlerChain?,
        steps: [HandlerStep], logger: Logger
    ) {
        self.method = head.method
        self.uri = head.uri
        self.version = head.version
        self.headers = head.headers
        self.body = body
        self.channel = channel
        self.givenRemoteAddress = remoteAddress
        self.responseHeaders = HTTPHeaders()  // storage made at the first field (see `data`)
        self.eventLoop = eventLoop
        self.allocator = allocator
        self.parameters = parameters
        self.fullPath = route?.pattern
        self.steps = steps
        self.logger = logger
        self.requestKeepAlive = head.isKeepAlive
        self.startTime = .now()
    }

    /// The path part of the target, without the query, still percent-encoded.
    public var path: Substring { Self.path(of: uri) }

    /// The query string after `?`, or empty.
    public var queryString: Substring {
        guard let question = Self.queryMark(in: uri) else { return "" }
        return uri[uri.utf8.index(after: question)...]
    }

    /// The path part of a request target.
    static func path(of uri: String) -> Substring {
        if let question = queryMark(in: uri) { return uri[..<question] }
        return uri[...]
    }

    /// Where the `?` that starts the query is. A loop over the contiguous bytes: the generic `firstIndex(of:)` of
    /// the UTF-8 view costs some 30 instructions a byte, and every request asks.
    private static func queryMark(in uri: String) -> String.Index? {
        let offset = uri.utf8.withContiguousStorageIfAvailable { bytes -> Int? in
            for index in bytes.indices where bytes[index] == UInt8(ascii: "?") { return index }
            return nil
        }
        guard let offset else { return uri.utf8.firstIndex(of: UInt8(ascii: "?")) }
        return offset.map { uri.utf8.index(uri.utf8.startIndex, offsetBy: $0) }
    }

    /// The route parameter `name`, percent-decoded.
    public func param(_ name: String) -> String? { parameters.decoded(name) }

    /// The first value of query parameter `name`, decoded (`+` is a space).
    public func query(_ name: String) -> String? { QueryString.value(of: name, in: queryString) }

    /// The first value of the request header `name` (Gin's `GetHeader`).
    public func header(_ name: String) -> String? { headers.first(name: name) }

    /// The client's address as seen on the socket.
    public var clientIP: String? { remoteAddress?.ipAddress }

    /// Stores a value for later handlers of this request (Gin's `Set`).
    public func set(_ key: String, _ value: any Sendable) { values[key] = value }

    /// A value stored by an earlier handler (Gin's `Get`).
    public func get(_ key: String) -> (any Sendable)? { values[key] }

    /// Runs `hook` once the answer has been handed to the connection: for access logs, timings and releasing
    /// permits. It runs for every request, async and streamed ones included.
    public func onFinish(_ hook: @escaping (Context) -> Void) { finishHooks.append(hook) }

    /// Cancels the async part of the chain if it is still running: its handlers see `Task.isCancelled`.
    func cancelAsyncPart() { runner?.cancel(self) }
}

/// Where a context's answer goes: the connection's channel handler, or the in-process test client.
protocol ResponseSink: AnyObject {
    /// What runs the async part of this sink's requests' chains, on its event loop.
    var asyncRunner: AsyncChainRunner { get }
    /// Writes the whole answer `c` holds. On the loop.
    func send(_ c: Context)
    /// Writes the head of a streamed answer (chunked, or close-delimited for HTTP/1.0).
    func startStream(_ c: Context)
    /// Writes one part of a streamed body; returns when it has been handed to the socket.
    func writeStream(_ c: Context, _ part: ByteBuffer) async throws
    /// Ends a streamed answer.
    func endStream(_ c: Context)
}
