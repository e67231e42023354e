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
        /// The status the error just thrown deserves when it is not the parser's usual one (414 for a request line
        /// that overflowed, 400 for unparsed input past the cap). The error itself stays an `HTTPParserError`,
        /// which is what lets `RequestGuard` order the answer among the requests before it.
        var errorStatus: HTTPResponseStatus?
        /// The bytes the parser was given last, for telling a malformed request line from an unsupported one.
        var lastInput: ByteBuffer?
        /// Whether the current message's request line has been seen to end, and where (for 414 against 431).
        var lineEnd: Int?

        /// The status for a parser error about the request line, from the shape of the line in `lastInput`:
        /// 505 for a well-formed line whose version is not 1.x (but 0.9, which is no request line at all), 501 for
        /// a well-formed method the parser does not know, 400 for anything else.
        /// Messages that ended since `lastInput` was taken: when any did, `lastInput` does not start with the
        /// request line that failed, and its shape is not known.
        var endsSinceInput = 0

        func refine(_ error: HTTPParserError) {
            guard errorStatus == nil, error == .invalidVersion || error == .invalidMethod else { return }
            let line = endsSinceInput == 0 ? lastInput.flatMap(RearmingRequestDecoder.requestLine) : nil
            if error == .invalidVersion {
                // A real version other than 1.0 and 1.1 (1.2, 2.0, 3.0): 505. HTTP/0.9 has no request line of this form.
                errorStatus = (line?.versionMajor ?? 0) >= 1 ? .httpVersionNotSupported : .badRequest
            } else {
                errorStatus = line?.methodIsWellFormed == true ? .notImplemented : .badRequest
            }
        }
    }

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
            signal.lastInput = buffer
            signal.endsSinceInput = 0
            if signal.lineEnd == nil, let newline = buffer.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
                signal.lineEnd = newline - buffer.readerIndex
            }
            do {
                _ = try inner.decode(context: context, buffer: &buffer)
            } catch HTTPParserError.headerOverflow where signal.lineEnd.map({ $0 > limits.maxHeaderFieldSize }) ?? true {
                // The request line itself did not end within the limit: the target is too long (414, RFC 9112 §3),
                // not the header section (431).
                signal.errorStatus = .uriTooLong
                throw HTTPParserError.headerOverflow
            } catch let error as HTTPParserError {
                signal.refine(error)
                throw error
            }
            guard signal.rearm else { break }
            signal.rearm = false
            inner.decoderRemoved(context: context)
            inner = Self.makeDecoder(limits)
            inner.decoderAdded(context: context)
            if buffer.readableBytes == 0 { break }
        }
        if buffer.readableBytes > bufferLimit {
            signal.errorStatus = .badRequest
            throw HTTPParserError.headerOverflow
        }
        return .needMoreData
    }

    /// The shape of a request line: `METHOD SP target SP HTTP/d.d CRLF`.
    struct RequestLineShape {
        var methodIsWellFormed: Bool
        /// The major version of a well-formed `HTTP/d.d` at the end of a well-formed line.
        var versionMajor: Int?
    }

    static func requestLine(_ buffer: ByteBuffer) -> RequestLineShape? {
        let bytes = buffer.readableBytesView
        let start = bytes.firstIndex { $0 != UInt8(ascii: "\r") && $0 != UInt8(ascii: "\n") } ?? bytes.startIndex
        let line = bytes[start...].prefix { $0 != UInt8(ascii: "\n") }
        let parts = line.split(separator: UInt8(ascii: " "), omittingEmptySubsequences: false)
        guard let method = parts.first else { return nil }
        let methodOK = !method.isEmpty
            && method.allSatisfy { ($0 >= UInt8(ascii: "A") && $0 <= UInt8(ascii: "Z")) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "_") }
            && parts.count >= 2 && !parts[1].isEmpty
        var major: Int?
        let lineEnds = start + line.count < bytes.endIndex && line.last == UInt8(ascii: "\r")
        if parts.count == 3, lineEnds, methodOK {
            let version = Array(parts[2].dropLast())  // without the CR
            if version.count == 8 && version.starts(with: Array("HTTP/".utf8)) && (48...57).contains(version[5])
                && version[6] == UInt8(ascii: ".") && (48...57).contains(version[7])
            {
                major = Int(version[5] - 48)
            }
        }
        return RequestLineShape(methodIsWellFormed: methodOK, versionMajor: major)
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
