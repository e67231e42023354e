import NIOCore
import NIOHTTP1

/// NIO's HTTP/1.1 request decoder, made safe for a server that does not switch protocols.
///
/// llhttp stops parsing after a request that asks for an upgrade (`Upgrade` with `Connection: upgrade`, and every
/// `CONNECT`): the bytes after it belong to the new protocol, and NIO leaves them in the handler's buffer. A server
/// that answers such a request as a plain one (or refuses it) would then freeze the connection and buffer whatever
/// the client sends, without bound. This decoder wraps NIO's and, when `RequestGuard` reports that the request that
/// just ended made the parser stop, starts a fresh parser on the bytes that follow: the next pipelined request is
/// parsed as one. Whatever still piles up unparsed beyond `bufferLimit` is an error (the client is sending faster
/// than requests can be taken, or something is out of step), so no connection buffers without bound.
final class RearmingRequestDecoder: ByteToMessageDecoder {
    typealias InboundOut = HTTPServerRequestPart

    /// Shared with the connection's `RequestGuard`, on the same event loop.
    final class Signal {
        /// Set by `RequestGuard` when the `.end` of an upgrade request passed; cleared here once acted on, or by
        /// `RequestGuard` again if anything else was parsed after it (then the parser had not stopped after all).
        var rearm = false
    }

    /// Thrown when more unparsed bytes piled up than `bufferLimit`.
    struct BufferOverflow: Error {}

    let signal: Signal
    private let limits: NIOHTTPDecoderLimitConfiguration
    private let bufferLimit: Int
    private var inner: HTTPRequestDecoder

    init(limits: NIOHTTPDecoderLimitConfiguration, bufferLimit: Int, signal: Signal) {
        self.limits = limits
        self.bufferLimit = bufferLimit
        self.signal = signal
        self.inner = Self.makeDecoder(limits)
    }

    private static func makeDecoder(_ limits: NIOHTTPDecoderLimitConfiguration) -> HTTPRequestDecoder {
        HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop, limitConfiguration: limits)
    }

    func decoderAdded(context: ChannelHandlerContext) { inner.decoderAdded(context: context) }

    func decoderRemoved(context: ChannelHandlerContext) { inner.decoderRemoved(context: context) }

    func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        while true {
            _ = try inner.decode(context: context, buffer: &buffer)
            guard signal.rearm else { break }
            signal.rearm = false
            inner.decoderRemoved(context: context)
            inner = Self.makeDecoder(limits)
            inner.decoderAdded(context: context)
            if buffer.readableBytes == 0 { break }
        }
        if buffer.readableBytes > bufferLimit { throw BufferOverflow() }
        return .needMoreData
    }

    func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        if signal.rearm {
            signal.rearm = false
            inner.decoderRemoved(context: context)
            inner = Self.makeDecoder(limits)
            inner.decoderAdded(context: context)
        }
        return try inner.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
    }
}

@available(*, unavailable)
extension RearmingRequestDecoder: Sendable {}

/// Sits right after the decoder, before pipelining holds anything back, and tells `RearmingRequestDecoder` when the
/// request that just ended was one after which llhttp stops: `CONNECT`, or `Upgrade` together with a `Connection:
/// upgrade` token (llhttp's own rule). Anything parsed after such an end means the parser went on after all, and
/// the signal is withdrawn.
final class UpgradeWatch: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart

    private let signal: RearmingRequestDecoder.Signal
    private var current = false

    init(signal: RearmingRequestDecoder.Signal) {
        self.signal = signal
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        signal.rearm = false
        switch unwrapInboundIn(data) {
        case .head(let head):
            current = head.method == .CONNECT || RequestHeadCheck.asksForUpgrade(head.headers)
        case .body:
            break
        case .end:
            if current {
                current = false
                signal.rearm = true
            }
        }
        context.fireChannelRead(data)
    }
}

@available(*, unavailable)
extension UpgradeWatch: Sendable {}
