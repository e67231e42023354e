import NIOCore
import NIOHTTP1

/// One HTTP/1.1 exchange the gateway starts itself (a forward-auth check, a mirrored copy) over an upstream
/// server's pooled keep-alive connections, on the caller's event loop: the request is written whole, the answer's
/// head and up to `maxBody` bytes of its body are kept (the rest is read and dropped), and the connection goes
/// back to its pool when the answer ended cleanly. It fails on a connect failure, a close before the answer's end,
/// or `timeout` (the connection is then closed: it is out of step).
final class Subrequest: UpstreamExchange {
    struct Response {
        let head: HTTPResponseHead
        let body: ByteBuffer?
    }

    enum Failure: Error, Equatable {
        case unreachable
        case busy
        case closed
        case timedOut
    }

    private let head: HTTPRequestHead
    private let body: ByteBuffer?
    private let maxBody: Int
    private let promise: EventLoopPromise<Response>
    private var connection: UpstreamConnection?
    private var timer: Scheduled<Void>?
    private var response: HTTPResponseHead?
    private var received: ByteBuffer?
    private var done = false

    private init(head: HTTPRequestHead, body: ByteBuffer?, maxBody: Int, promise: EventLoopPromise<Response>) {
        self.head = head
        self.body = body
        self.maxBody = maxBody
        self.promise = promise
    }

    /// Sends `head` (and `body`, whose framing `head` must already declare) to `server`. Call on `eventLoop`.
    static func send(
        _ head: HTTPRequestHead, body: ByteBuffer? = nil, to server: UpstreamServer, on eventLoop: any EventLoop,
        timeout: TimeAmount, maxBody: Int = 16 * 1024
    ) -> EventLoopFuture<Response> {
        let promise = eventLoop.makePromise(of: Response.self)
        let exchange = Subrequest(head: head, body: body, maxBody: maxBody, promise: promise)
        exchange.timer = eventLoop.assumeIsolated().scheduleTask(in: timeout) { exchange.fail(.timedOut) }
        let pool = server.pool(on: eventLoop)
        if let connection = pool.takeIdle() {
            exchange.start(on: connection)
        } else {
            pool.acquire { result in
                switch result {
                case .success(let connection):
                    guard !exchange.done else {
                        connection.pool?.release(connection, reusable: true)
                        return
                    }
                    exchange.start(on: connection)
                case .failure(.connectFailed(let reason)):
                    server.recordLocalFailure(reason)
                    exchange.fail(.unreachable)
                case .failure:
                    exchange.fail(.busy)
                }
            }
        }
        return promise.futureResult
    }

    private func start(on connection: UpstreamConnection) {
        self.connection = connection
        connection.exchange = self
        connection.requestCount += 1
        connection.write(.head(head))
        if let body, body.readableBytes > 0 { connection.write(.body(.byteBuffer(body))) }
        connection.write(.end(nil))
        connection.flush()
    }

    private func fail(_ failure: Failure) {
        guard !done else { return }
        done = true
        timer?.cancel()
        if let connection {
            self.connection = nil
            connection.exchange = nil
            if let pool = connection.pool { pool.release(connection, reusable: false) } else { connection.close() }
        }
        promise.fail(failure)
    }

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard !done else { return }
        switch part {
        case .head(let head):
            if head.status.code < 200 { return }  // 100-continue and other interim answers
            response = head
        case .body(var bytes):
            let room = maxBody - (received?.readableBytes ?? 0)
            if room > 0, let slice = bytes.readSlice(length: min(room, bytes.readableBytes)) {
                if received == nil { received = slice } else { received!.writeImmutableBuffer(slice) }
            }
        case .end:
            guard let response else { return fail(.closed) }
            done = true
            timer?.cancel()
            if let connection {
                self.connection = nil
                connection.pool?.release(connection, reusable: response.isKeepAlive)
            }
            promise.succeed(Response(head: response, body: received))
        }
    }

    func upstreamReadComplete() {}

    func upstreamWritabilityChanged(writable: Bool) {}

    func upstreamClosed(error: (any Error)?) {
        connection = nil
        fail(.closed)
    }
}

@available(*, unavailable)
extension Subrequest: Sendable {}
