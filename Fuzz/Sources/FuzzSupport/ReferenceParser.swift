import NIOCore
import NIOEmbedded
import NIOHTTP1

/// What NIO's HTTP/1.1 request parser, standing alone, finds in a client's bytes: the yardstick the server's
/// pipeline is measured against ("the app never sees more requests than the bytes hold").
///
/// Like any server that does not switch protocols, it starts a fresh parser after a request after which llhttp
/// stops (`CONNECT`, or `Upgrade` with a `Connection: upgrade` token), so the count is of every request the bytes
/// hold, not only those before the first upgrade.
public struct ReferenceParse: Sendable {
    /// The request heads, in order.
    public var heads: [HTTPRequestHead] = []
    /// Requests whose end was parsed.
    public var ends = 0
    /// The parser failed (bad bytes, or an incomplete message at EOF): one error answer is allowed for it.
    public var errored = false
    public var errors: [String] = []
}

public enum ReferenceParser {
    /// Parses `bytes` in one go, then EOF. Limits are NIO's defaults, looser than the server's, so that the count is
    /// an upper bound.
    public static func parse(_ bytes: [UInt8]) -> ReferenceParse {
        let state = State()
        let channel = EmbeddedChannel()
        do {
            try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(RestartingDecoder(state: state)))
            try channel.pipeline.syncOperations.addHandler(Collector(state: state))
            try channel.writeInbound(channel.allocator.buffer(bytes: bytes))
        } catch {
            state.result.errored = true
            state.result.errors.append("\(error)")
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        return state.result
    }

    final class State {
        var result = ReferenceParse()
        var restart = false
        var currentStops = false
    }

    /// NIO's decoder, replaced by a fresh one after a request that stops llhttp.
    final class RestartingDecoder: ByteToMessageDecoder {
        typealias InboundOut = HTTPServerRequestPart
        let state: State
        var inner = HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop)

        init(state: State) { self.state = state }

        func decoderAdded(context: ChannelHandlerContext) { inner.decoderAdded(context: context) }
        func decoderRemoved(context: ChannelHandlerContext) { inner.decoderRemoved(context: context) }

        private func renew(context: ChannelHandlerContext) {
            state.restart = false
            inner.decoderRemoved(context: context)
            inner = HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes, informationalResponseStrategy: .drop)
            inner.decoderAdded(context: context)
        }

        func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
            while true {
                _ = try inner.decode(context: context, buffer: &buffer)
                guard state.restart else { break }
                renew(context: context)
                if buffer.readableBytes == 0 { break }
            }
            return .needMoreData
        }

        func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
            while state.restart {
                renew(context: context)
                _ = try inner.decode(context: context, buffer: &buffer)
            }
            return try inner.decodeLast(context: context, buffer: &buffer, seenEOF: seenEOF)
        }
    }

    final class Collector: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        let state: State

        init(state: State) { self.state = state }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            state.restart = false
            switch unwrapInboundIn(data) {
            case .head(let head):
                state.result.heads.append(head)
                state.currentStops = head.method == .CONNECT || llhttpStops(head.headers)
            case .body:
                break
            case .end:
                state.result.ends += 1
                if state.currentStops {
                    state.currentStops = false
                    state.restart = true
                }
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            state.result.errored = true
            state.result.errors.append("\(error)")
        }
    }

    /// llhttp's rule: an `Upgrade` field, and `upgrade` among the comma-separated tokens of `Connection`.
    public static func llhttpStops(_ headers: HTTPHeaders) -> Bool {
        guard headers.contains(name: "upgrade") else { return false }
        for value in headers["connection"] {
            for token in value.split(separator: ",") where token.trimmingSpaces().lowercased() == "upgrade" { return true }
        }
        return false
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var text = self
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return text
    }
}
