import NIOCore
import NIOHTTP1
import NIOPosix

/// One request over its own TCP connection to a live test server, read back whole: the live mode of `Engine.test`.
enum LiveTestConnection {
    static func execute(_ head: HTTPRequestHead, body: ByteBuffer?, to address: SocketAddress) async throws
        -> TestResponse
    {
        let group = MultiThreadedEventLoopGroup.singleton
        let loop = group.next()
        let promise = loop.makePromise(of: TestResponse.self)
        let channel = try await ClientBootstrap(group: loop)
            .connectTimeout(.seconds(5))
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector(promise: promise))
                }
            }
            .connect(to: address).get()
        channel.write(HTTPClientRequestPart.head(head), promise: nil)
        if let body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        defer { channel.close(promise: nil) }
        return try await promise.futureResult.get()
    }
}

/// Gathers one response; fails the promise if the connection ends first.
private final class ResponseCollector: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private let promise: EventLoopPromise<TestResponse>
    private var head: HTTPResponseHead?
    private var parts: [ByteBuffer] = []
    private var done = false

    init(promise: EventLoopPromise<TestResponse>) { self.promise = promise }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            // Interim answers (100 Continue) come before the final head.
            if head.status.code >= 200 { self.head = head }
        case .body(let part):
            parts.append(part)
        case .end:
            guard let head, !done else { return }
            done = true
            var body = ByteBuffer()
            for var part in parts { body.writeBuffer(&part) }
            promise.succeed(TestResponse(status: head.status, headers: head.headers, body: body, parts: parts))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        if !done {
            done = true
            promise.fail(ChannelError.eof)
        }
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if !done {
            done = true
            promise.fail(error)
        }
        context.close(promise: nil)
    }
}
