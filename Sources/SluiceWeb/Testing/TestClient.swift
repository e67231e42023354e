public import NIOCore
public import NIOHTTP1
import NIOPosix

extension Engine {
    /// Runs `body` with a client whose requests go through this engine's routes and middleware in-process, without
    /// sockets (Hummingbird's `.router` testing, Gin's `httptest`). Handlers run on an event loop as they would under
    /// a server, async ones through the same task executor.
    ///
    /// ```swift
    /// try await engine.test { client in
    ///     let answer = try await client.get("/ping")
    ///     #expect(answer.status == .ok)
    /// }
    /// ```
    public func test<T>(_ body: (TestClient) async throws -> T) async throws -> T {
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let client = TestClient(responder: makeResponder(), loop: loop)
        return try await body(client)
    }
}

/// Sends requests through an engine in-process; see `Engine.test`.
public struct TestClient: Sendable {
    let responder: Responder
    let loop: any EventLoop
    let executor: EventLoopTaskExecutor

    init(responder: Responder, loop: any EventLoop) {
        self.responder = responder
        self.loop = loop
        self.executor = EventLoopTaskExecutor(loop)
    }

    /// Sends one request and returns the whole answer. `Host` is added when `headers` has none.
    public func execute(
        _ method: HTTPMethod, _ uri: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil,
        remoteAddress: SocketAddress? = nil
    ) async throws -> TestResponse {
        var headers = headers
        if !headers.contains(name: "host") { headers.add(name: "host", value: "test") }
        if let body, !headers.contains(name: "content-length"), !headers.contains(name: "transfer-encoding") {
            headers.add(name: "content-length", value: String(body.readableBytes))
        }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers)
        let promise = loop.makePromise(of: TestResponse.self)
        let responder = self.responder
        let executor = self.executor
        let loop = self.loop
        loop.execute {
            let sink = CollectingSink(promise: promise, loop: loop, executor: executor)
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let resolved = responder.resolve(method: head.method, path: path)
            let c = Context(
                head: head, body: body, channel: nil,
                remoteAddress: remoteAddress ?? (try? SocketAddress(ipAddress: "127.0.0.1", port: 40000)),
                eventLoop: loop, allocator: ByteBufferAllocator(), parameters: resolved.parameters,
                route: resolved.route, steps: resolved.steps, logger: responder.logger)
            if responder.run(c, sink: sink) { sink.send(c) }
            // The context holds its sink weakly, as it holds a connection: keep it until the answer is complete.
            promise.futureResult.assumeIsolated().whenComplete { _ in withExtendedLifetime(sink) {} }
        }
        return try await promise.futureResult.get()
    }

    public func get(_ uri: String, headers: HTTPHeaders = [:]) async throws -> TestResponse {
        try await execute(.GET, uri, headers: headers)
    }

    public func head(_ uri: String, headers: HTTPHeaders = [:]) async throws -> TestResponse {
        try await execute(.HEAD, uri, headers: headers)
    }

    public func delete(_ uri: String, headers: HTTPHeaders = [:]) async throws -> TestResponse {
        try await execute(.DELETE, uri, headers: headers)
    }

    /// Sends `body` as `contentType` (JSON by default).
    public func post(
        _ uri: String, _ body: String, contentType: String = "application/json", headers: HTTPHeaders = [:]
    ) async throws -> TestResponse {
        try await send(.POST, uri, body, contentType: contentType, headers: headers)
    }

    public func patch(
        _ uri: String, _ body: String, contentType: String = "application/json", headers: HTTPHeaders = [:]
    ) async throws -> TestResponse {
        try await send(.PATCH, uri, body, contentType: contentType, headers: headers)
    }

    public func put(
        _ uri: String, _ body: String, contentType: String = "application/json", headers: HTTPHeaders = [:]
    ) async throws -> TestResponse {
        try await send(.PUT, uri, body, contentType: contentType, headers: headers)
    }

    private func send(
        _ method: HTTPMethod, _ uri: String, _ body: String, contentType: String, headers: HTTPHeaders
    ) async throws -> TestResponse {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: contentType)
        return try await execute(method, uri, headers: headers, body: ByteBuffer(string: body))
    }
}

/// A whole answer as the test client saw it.
public struct TestResponse: Sendable {
    public let status: HTTPResponseStatus
    public let headers: HTTPHeaders
    public let body: ByteBuffer
    /// The parts of a streamed body as they were written, in order (one part for an answer that was not streamed).
    public let parts: [ByteBuffer]

    /// The body as UTF-8 text.
    public var text: String { String(buffer: body) }

    /// The first value of the answer's header `name`.
    public func header(_ name: String) -> String? { headers.first(name: name) }
}

/// Collects an answer for the test client, as `EngineChannelHandler` would write it to a socket.
final class CollectingSink: ResponseSink {
    private let promise: EventLoopPromise<TestResponse>
    private let loop: any EventLoop
    private var head: (status: HTTPResponseStatus, headers: HTTPHeaders)?
    private var parts: [ByteBuffer] = []
    let taskExecutor: EventLoopTaskExecutor

    init(promise: EventLoopPromise<TestResponse>, loop: any EventLoop, executor: EventLoopTaskExecutor) {
        self.promise = promise
        self.loop = loop
        self.taskExecutor = executor
    }

    func send(_ c: Context) {
        guard !c.answered else { return }
        c.answered = true
        if c.gzip != nil { c.compressIfAsked() }
        let bodyAllowed = c.responseStatus.mayHaveResponseBody
        if bodyAllowed {
            let length = c.responseFile.map { $0.region.readableBytes } ?? c.responseBody?.readableBytes ?? 0
            c.responseHeaders.add(name: "content-length", value: String(length))
        }
        c.setConnectionHeader(keepAlive: c.isKeepAlive)
        let status = c.responseStatus
        let headers = c.responseHeaders
        for hook in c.finishHooks { hook(c) }
        guard bodyAllowed, c.method != .HEAD else {
            if let file = c.responseFile { try? file.handle.close() }
            promise.succeed(TestResponse(status: status, headers: headers, body: ByteBuffer(), parts: []))
            return
        }
        if let file = c.responseFile {
            let io = NonBlockingFileIO(threadPool: .singleton)
            io.read(fileRegion: file.region, allocator: ByteBufferAllocator(), eventLoop: loop).assumeIsolated().whenComplete {
                result in
                try? file.handle.close()
                switch result {
                case .success(let bytes):
                    self.promise.succeed(TestResponse(status: status, headers: headers, body: bytes, parts: [bytes]))
                case .failure(let error):
                    self.promise.fail(error)
                }
            }
            return
        }
        let body = c.responseBody ?? ByteBuffer()
        promise.succeed(TestResponse(status: status, headers: headers, body: body, parts: [body]))
    }

    func startStream(_ c: Context) {
        c.answered = true
        c.responseHeaders.remove(name: "content-length")
        head = (c.responseStatus, c.responseHeaders)
    }

    func writeStream(_ c: Context, _ part: ByteBuffer) async throws {
        parts.append(part)
    }

    func endStream(_ c: Context) {
        for hook in c.finishHooks { hook(c) }
        var body = ByteBuffer()
        for var part in parts { body.writeBuffer(&part) }
        let head = head ?? (c.responseStatus, c.responseHeaders)
        promise.succeed(TestResponse(status: head.status, headers: head.headers, body: body, parts: parts))
    }
}
