import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An upstream that answers each request head with whatever bytes its script returns, right or wrong: for testing
/// what the gateway does with broken or hostile upstream answers. Bodies of requests are not expected.
final class ScriptedUpstream: Sendable {
    /// What to write for the `index`-th request head (counted over all connections), and whether to close after.
    typealias Script = @Sendable (_ index: Int, _ head: String) -> (bytes: String, close: Bool)

    private let channel: any Channel
    private let count: NIOLockedValueBox<Int>

    var port: Int { channel.localAddress!.port! }
    /// Request heads received so far.
    var requests: Int { count.withLockedValue { $0 } }

    private init(channel: any Channel, count: NIOLockedValueBox<Int>) {
        self.channel = channel
        self.count = count
    }

    static func start(_ script: @escaping Script) async throws -> ScriptedUpstream {
        let count = NIOLockedValueBox(0)
        let channel = try await startLoopbackServer { channel in
            try channel.pipeline.syncOperations.addHandler(Responder(script: script, count: count))
        }
        return ScriptedUpstream(channel: channel, count: count)
    }

    func stop() async { try? await channel.close() }

    private final class Responder: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer

        let script: Script
        let count: NIOLockedValueBox<Int>
        var pending = ""

        init(script: @escaping Script, count: NIOLockedValueBox<Int>) {
            self.script = script
            self.count = count
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            pending += String(buffer: unwrapInboundIn(data))
            while let end = pending.firstRange(of: "\r\n\r\n") {
                let head = String(pending[..<end.lowerBound])
                pending = String(pending[end.upperBound...])
                let index = count.withLockedValue { value in
                    defer { value += 1 }
                    return value
                }
                let (bytes, close) = script(index, head)
                let write = context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: bytes)))
                if close { write.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
            }
        }
    }
}
