import Foundation
public import NIOCore
public import NIOHTTP1
import NIOPosix
public import SluiceServer

extension Engine {
    /// How `test` sends requests.
    public enum TestMode: Sendable {
        /// Through the routes and middleware in-process, without sockets (Hummingbird's `.router`, Gin's
        /// `httptest.NewRecorder`).
        case inProcess
        /// To a real server on 127.0.0.1 and an ephemeral port, over TCP (Hummingbird's `.live`, Go's
        /// `httptest.NewServer`): the whole server pipeline, limits, framing and all. The server stops when `body`
        /// returns.
        case live(ServerConfiguration = ServerConfiguration(host: "127.0.0.1", port: 0))
    }

    /// Runs `body` with a client whose requests go through this engine's routes and middleware, in-process by
    /// default. Handlers run on an event loop as they would under a server, async ones through the same task
    /// executor.
    ///
    /// ```swift
    /// try await engine.test { client in
    ///     let answer = try await client.get("/ping")
    ///     #expect(answer.status == .ok)
    /// }
    /// try await engine.test(.live()) { client in … }   // a real server on port client.port!
    /// ```
    public func test<T>(_ mode: TestMode = .inProcess, _ body: (TestClient) async throws -> T) async throws -> T {
        switch mode {
        case .inProcess:
            let loop = MultiThreadedEventLoopGroup.singleton.next()
            let client = TestClient(transport: .inProcess(makeResponder(), loop, EventLoopTaskExecutor(loop)))
            return try await body(client)
        case .live(let configuration):
            let server = try await start(configuration)
            do {
                let address = try server.localAddress ?? SocketAddress(ipAddress: "127.0.0.1", port: 0)
                let result = try await body(TestClient(transport: .live(address)))
                await server.shutdown(gracePeriod: .seconds(1))
                return result
            } catch {
                await server.shutdown(gracePeriod: .seconds(1))
                throw error
            }
        }
    }
}

/// Sends requests through an engine, in-process or to a live server; see `Engine.test`.
public struct TestClient: Sendable {
    enum Transport: Sendable {
        case inProcess(Responder, any EventLoop, EventLoopTaskExecutor)
        case live(SocketAddress)
    }

    let transport: Transport

    /// The live server's port; nil in-process.
    public var port: Int? {
        if case .live(let address) = transport { return address.port }
        return nil
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
        switch transport {
        case .inProcess(let responder, let loop, let executor):
            return try await Self.runInProcess(
                head, body: body, remoteAddress: remoteAddress, responder: responder, loop: loop, executor: executor)
        case .live(let address):
            return try await LiveTestConnection.execute(head, body: body, to: address)
        }
    }

    private static func runInProcess(
        _ head: HTTPRequestHead, body: ByteBuffer?, remoteAddress: SocketAddress?, responder: Responder,
        loop: any EventLoop, executor: EventLoopTaskExecutor
    ) async throws -> TestResponse {
        let promise = loop.makePromise(of: TestResponse.self)
        loop.execute {
            let sink = CollectingSink(promise: promise, loop: loop, executor: executor)
            let path = head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? ""
            let resolved = responder.resolve(method: head.method, path: path)
            let streams = resolved.route?.streamsBody == true
            let c = Context(
                head: head, body: streams ? nil : body, channel: nil,
                remoteAddress: remoteAddress ?? (try? SocketAddress(ipAddress: "127.0.0.1", port: 40000)),
                eventLoop: loop, allocator: ByteBufferAllocator(), parameters: resolved.parameters,
                route: resolved.route, steps: resolved.steps, logger: responder.logger)
            // A streaming route reads the body as one part.
            if streams { c.liveBody = RequestBodyStream(storage: .buffered(body)) }
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

    /// The body decoded from JSON.
    public func json<T: Decodable>(_ type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: Data(body.readableBytesView))
    }
}

/// Collects an answer for the test client, as `EngineChannelHandler` would write it to a socket.
final class CollectingSink: ResponseSink {
    private let promise: EventLoopPromise<TestResponse>
    private let loop: any EventLoop
    private var head: (status: HTTPResponseStatus, headers: HTTPHeaders)?
    private var parts: [ByteBuffer] = []
    let asyncRunner: AsyncChainRunner

    init(promise: EventLoopPromise<TestResponse>, loop: any EventLoop, executor: EventLoopTaskExecutor) {
        self.promise = promise
        self.loop = loop
        self.asyncRunner = AsyncChainRunner(executor: executor, waitsForNext: false)
    }

    func send(_ c: Context) {
        guard !c.answered else { return }
        c.answered = true
        c.prepareWholeAnswer()
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
        c.dropInvalidHeaders()
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
