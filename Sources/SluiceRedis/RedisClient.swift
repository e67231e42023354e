public import NIOCore
import NIOPosix

/// A Redis error reply (`-ERR ...`, `-NOSCRIPT ...`, `-WRONGTYPE ...`): Redis understood the command and refused it.
public struct RedisError: Error, Hashable, CustomStringConvertible {
    /// The reply's text, such as `NOSCRIPT No matching script. Please use EVAL.`
    public let message: String

    public init(message: String) { self.message = message }

    /// The first word of the message (`ERR`, `NOSCRIPT`, `WRONGTYPE`, ...).
    public var code: Substring { message.prefix { $0 != " " } }

    public var description: String { "Redis error: \(message)" }
}

/// Why a command got no reply.
public enum RedisClientError: Error, Hashable {
    /// The connection closed (or broke) before the reply came; the command may or may not have run.
    case connectionClosed
    /// A reply came with no command waiting for it: the connection is out of step and was closed.
    case unexpectedReply
}

/// One Redis connection with pipelining: commands go out as soon as they are sent, and replies, which Redis gives in
/// order, complete the waiting futures first in, first out.
///
/// Thread-safe: `send` may be called from any thread; replies complete on the connection's event loop.
public final class RedisClient: Sendable {
    /// The TCP connection.
    public let channel: any Channel

    private init(channel: any Channel) {
        self.channel = channel
    }

    /// The event loop the connection (and every reply future) lives on.
    public var eventLoop: any EventLoop { channel.eventLoop }

    /// Whether the connection is still open.
    public var isActive: Bool { channel.isActive }

    /// Completes when the connection has closed, for whatever reason.
    public var closeFuture: EventLoopFuture<Void> { channel.closeFuture }

    /// Opens a connection to `host:port` on `eventLoop`. Name resolution runs off the event loop (NIO's resolver).
    public static func connect(
        host: String, port: Int, on eventLoop: any EventLoop, connectTimeout: TimeAmount = .seconds(1)
    ) -> EventLoopFuture<RedisClient> {
        ClientBootstrap(group: eventLoop)
            .connectTimeout(connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(RESPReplyDecoder()),
                        MessageToByteHandler(RESPCommandEncoder()),
                        RedisCommandHandler(),
                    ])
                }
            }
            .connect(host: host, port: port)
            .map { RedisClient(channel: $0) }
    }

    /// Sends one command (`["SET", "k", "v"]`). The future fails with `RedisError` on an error reply and with
    /// `RedisClientError.connectionClosed` (or the I/O error) when the connection goes before the reply comes.
    public func send(_ command: [String]) -> EventLoopFuture<RESPValue> {
        let reply = channel.eventLoop.makePromise(of: RESPValue.self)
        // A write that never reaches the handler (channel already closed) must still complete the reply; if it did
        // reach the handler, the handler fails the reply first and this second completion is ignored.
        channel.writeAndFlush(RedisRequest(command: command, reply: reply)).whenFailure { reply.fail($0) }
        return reply.futureResult
    }

    /// Closes the connection; commands still waiting fail with `connectionClosed`. Closing twice is fine.
    public func close() -> EventLoopFuture<Void> {
        let promise = channel.eventLoop.makePromise(of: Void.self)
        channel.close(promise: promise)
        return promise.futureResult.flatMapError { error in
            if let error = error as? ChannelError, error == .alreadyClosed {
                return self.channel.eventLoop.makeSucceededVoidFuture()
            }
            return self.channel.eventLoop.makeFailedFuture(error)
        }
    }
}

/// A command and the promise its reply completes.
struct RedisRequest: Sendable {
    var command: [String]
    var reply: EventLoopPromise<RESPValue>
}

/// Pairs replies with commands: a FIFO of promises, one per command written.
final class RedisCommandHandler: ChannelDuplexHandler {
    typealias InboundIn = RESPValue
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = [String]

    private var waiting = CircularBuffer<EventLoopPromise<RESPValue>>(initialCapacity: 16)
    /// Set once the connection is unusable; later commands fail with it at once.
    private var failure: (any Error)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        if let failure {
            request.reply.fail(failure)
            promise?.fail(failure)
            return
        }
        waiting.append(request.reply)
        context.write(wrapOutboundOut(request.command), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let value = unwrapInboundIn(data)
        guard let reply = waiting.popFirst() else {
            failAll(RedisClientError.unexpectedReply)
            context.close(promise: nil)
            return
        }
        if case .error(let message) = value {
            reply.fail(RedisError(message: message))
        } else {
            reply.succeed(value)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // A decoding error leaves the stream out of step, and an I/O error leaves it broken: either way, done.
        failAll(error)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(RedisClientError.connectionClosed)
        context.fireChannelInactive()
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        failAll(RedisClientError.connectionClosed)
    }

    private func failAll(_ error: any Error) {
        if failure == nil { failure = error }
        while let reply = waiting.popFirst() {
            reply.fail(error)
        }
    }
}
