import NIOCore
import NIOHTTP1

/// When to keep reading a connection while its request is being answered.
///
/// NIO's `HTTPServerPipelineHandler` serves one request at a time and withholds `read()` from the time a request
/// has ended until its response has: with nothing to read, the channel stops listening for input, and starts again
/// once the answer is out, which costs two `epoll_ctl` calls on every request of a keep-alive connection. Reading
/// ahead in that state is harmless: what can arrive is the next request, which the pipeline handler holds until
/// its turn. So while exactly one request is waiting for its answer and nothing has arrived after it, a read stays
/// armed; as soon as a pipelined request arrives behind it, or the connection is to close, reads are withheld as
/// before (so a client that pipelines without reading answers buffers at most one read's worth).
///
/// Plain value logic: events in, one question out.
struct ReadAheadPolicy: Sendable, Equatable {
    /// Request heads received.
    private(set) var requests = 0
    /// Response ends written.
    private(set) var answers = 0
    /// The latest request has ended (its body is all in).
    private(set) var latestEnded = false
    /// A request arrived while an earlier one was still unanswered (pipelining).
    private(set) var backlog = false
    /// A request or an answer said the connection ends.
    private(set) var closing = false

    init() {}

    /// Requests received and not yet answered.
    var unanswered: Int { requests - answers }

    mutating func requestHead(keepAlive: Bool) {
        if unanswered > 0 { backlog = true }
        requests += 1
        latestEnded = false
        if !keepAlive { closing = true }
    }

    mutating func requestEnd() { latestEnded = true }

    mutating func responseHead(keepAlive: Bool) {
        if !keepAlive { closing = true }
    }

    mutating func responseEnd() {
        answers = min(answers + 1, requests)
        if unanswered == 0 { backlog = false }
    }

    /// Whether to keep a read armed now (asked after each read completes).
    var shouldReadAhead: Bool { unanswered == 1 && latestEnded && !backlog && !closing }
}

/// Watches requests as the parser delivers them, before pipelining holds anything back, and answers as they leave:
///
/// - It tells `RearmingRequestDecoder` when the request that just ended was one after which llhttp stops:
///   `CONNECT`, or `Upgrade` together with a `Connection: upgrade` token (llhttp's own rule). Anything parsed after
///   such an end means the parser went on after all, and the signal is withdrawn.
/// - It keeps a read armed while a request waits for its answer (`ReadAheadPolicy`).
///
/// Sits after NIO's encoder (outbound it sees response parts) and before its `HTTPServerPipelineHandler`; one
/// handler for both jobs, so each request part makes one hop fewer.
final class RequestWatch: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let signal: RearmingRequestDecoder.Signal
    private var policy = ReadAheadPolicy()
    /// The request being read asks llhttp to stop after it.
    private var stopsParser = false

    init(signal: RearmingRequestDecoder.Signal) {
        self.signal = signal
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        signal.rearm = false
        switch unwrapInboundIn(data) {
        case .head(let head):
            stopsParser = head.method == .CONNECT || RequestHeadCheck.asksForUpgrade(head.headers)
            policy.requestHead(keepAlive: head.isKeepAlive)
        case .body:
            break
        case .end:
            signal.lineEnd = nil
            signal.endsSinceInput += 1
            if stopsParser {
                stopsParser = false
                signal.rearm = true
            }
            policy.requestEnd()
        }
        context.fireChannelRead(data)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        context.fireChannelReadComplete()
        if policy.shouldReadAhead && context.channel.isActive { context.read() }
    }

    /// NIO fires (rather than throws) its error for a version other than 1.x: refine its status here.
    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if let error = error as? HTTPParserError { signal.refine(error) }
        context.fireErrorCaught(error)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        switch unwrapOutboundIn(data) {
        case .head(let head) where head.status.code >= 200: policy.responseHead(keepAlive: head.isKeepAlive)
        case .head, .body: break
        case .end: policy.responseEnd()
        }
        context.write(data, promise: promise)
    }
}

@available(*, unavailable)
extension RequestWatch: Sendable {}
