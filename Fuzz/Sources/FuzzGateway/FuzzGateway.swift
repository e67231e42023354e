import FuzzSupport
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceRouter
import SluiceServer

@testable import SluiceGateway

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer target for the whole gateway path: the server pipeline (`HTTPServer.configureHTTP`) with the real
// `ProxyHandler`, its real connection pool, and a recording upstream.
//
// Why not all in memory: the pool connects with NIO's `ClientBootstrap`, which needs a socket event loop (an
// `EmbeddedEventLoop` traps), and a `ProxyHandler` must run on the loop its pools belong to. So everything runs on
// one `MultiThreadedEventLoopGroup` thread: the client connection is one end of a `socketpair` handed to
// `ClientBootstrap.withConnectedSocket` (no port, no TIME_WAIT), the fuzzer writes the input into the other end,
// half-closes it and reads until the gateway closes; the upstream is an in-process NIO server on 127.0.0.1 that
// parses with NIO's decoder and counts. Every input gets a fresh `UpstreamServer` (its own pools), closed at the end,
// and the run waits until the upstream has seen every upstream connection close, so each count is this input's.
//
// Input: two option bytes, then the client's bytes. First byte: bit 0 merge slashes; 1-2 escaped slashes (reject,
// keep, decode, keep); 3 request_buffer_size 0 (else 64 KiB); 4-6 the upstream's behaviour (see `UpstreamMode`);
// 7 one retry. Second byte: bit 0 half-close only once the gateway has gone quiet (else right after the input).
//
// Invariants: (1) the upstream never receives more requests than NIO's parser alone finds in the client's bytes;
// (2) the client gets at most one final response per request (plus one error answer if the parser failed), and what
// it gets is well-formed, framed right, nothing after `Connection: close`; (3) what the gateway sends the upstream
// always parses (no desync); (4) the gateway closes the connection once the client has half-closed and been
// answered; (5) no crash, no sanitizer report.

enum UpstreamMode: Int, CaseIterable {
    case length, chunked, closeDelimited, noContent, early, hangUp, continueFirst, notModified
}

/// What the upstream saw, across its connections; reset per input.
struct UpstreamRecord {
    var heads: [HTTPRequestHead] = []
    var parseErrors: [String] = []
    var open = 0
}

let record = NIOLockedValueBox(UpstreamRecord())
nonisolated(unsafe) var upstreamMode = UpstreamMode.length
let verbose = getenv("FUZZ_VERBOSE") != nil

final class RecordingUpstream: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    var method = HTTPMethod.GET
    var answered = false

    func channelActive(context: ChannelHandlerContext) {
        record.withLockedValue { $0.open += 1 }
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        record.withLockedValue { $0.open -= 1 }
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let mode = upstreamMode
        switch unwrapInboundIn(data) {
        case .head(let head):
            record.withLockedValue { $0.heads.append(head) }
            method = head.method
            answered = false
            switch mode {
            case .early: answer(context: context, mode: .length)
            case .hangUp: context.close(promise: nil)
            case .continueFirst:
                context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .continue))), promise: nil)
            default: break
            }
        case .body:
            break
        case .end:
            if !answered { answer(context: context, mode: mode == .continueFirst ? .length : mode) }
        }
    }

    func answer(context: ChannelHandlerContext, mode: UpstreamMode) {
        answered = true
        var headers = HTTPHeaders()
        var status = HTTPResponseStatus.ok
        var version = HTTPVersion.http1_1
        var body: String? = "ok"
        switch mode {
        case .length, .early, .continueFirst, .hangUp: headers.add(name: "content-length", value: "2")
        case .chunked: headers.add(name: "transfer-encoding", value: "chunked")
        case .closeDelimited:
            version = .http1_0
            headers.add(name: "connection", value: "close")
        case .noContent:
            status = .noContent
            body = nil
        case .notModified:
            status = .notModified
            headers.add(name: "content-length", value: "10")
            body = nil
        }
        if method == .HEAD { body = nil }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if let body {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
        }
        let done = context.writeAndFlush(wrapOutboundOut(.end(nil)))
        if mode == .closeDelimited { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // The gateway cutting a request short (its client left mid-body) is an EOF mid-message; anything else means
        // the gateway sent bytes that are not HTTP/1.1.
        if let parserError = error as? HTTPParserError, parserError == .invalidEOFState {
            context.close(promise: nil)
            return
        }
        record.withLockedValue { $0.parseErrors.append("\(error)") }
        context.close(promise: nil)
    }
}

/// The event loop everything runs on, and the recording upstream: made once per process.
final class Environment: Sendable {
    let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
    let upstreamPort: Int
    let logger: Logger

    init() {
        var logger = Logger(label: "fuzz.gateway")
        logger.logLevel = .critical
        self.logger = logger
        let channel = try! ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: false)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
                    try channel.pipeline.syncOperations.addHandler(HTTPResponseEncoder())
                    try channel.pipeline.syncOperations.addHandler(RecordingUpstream())
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        upstreamPort = channel.localAddress!.port!
    }
}

let environment = Environment()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 2 else { return 0 }
    let input = Array(UnsafeBufferPointer(start: data + 2, count: size - 2))
    run(options: data[0], more: data[1], input)
    return 0
}

func makeGateway(options: UInt8) throws -> (ProxyContext, UpstreamServer) {
    let group = environment.group
    let escaped: EscapedSlashes = [.reject, .keep, .decode, .keep][Int(options >> 1) & 3]
    var settings = PoolSettings()
    settings.connectTimeout = .seconds(1)
    let server = UpstreamServer(
        target: UpstreamTarget(host: "127.0.0.1", port: environment.upstreamPort), zone: nil, weight: 1, settings: settings,
        group: group)
    let upstream = UpstreamPool(name: "fuzz", servers: [server], group: group)
    let retries = options & 0x80 != 0 ? 1 : 0
    let route = ProxyRoute(
        name: "all", pattern: "/*", upstream: upstream, timeout: .seconds(2), idleTimeout: .seconds(2), retries: retries,
        hostRewrite: nil)
    var fallback = RouterBuilder<ProxyRoute>()
    try fallback.add(nil, "/*", route)
    var only = RouterBuilder<ProxyRoute>()
    try only.add("GET", "/only-get", route)
    try only.add(nil, "/api/:version/users/:id", route)
    let table = RouteTable(
        exact: ["only.example": only.build(options: RouterOptions(redirectTrailingSlash: true))], wildcards: [],
        fallback: fallback.build(options: RouterOptions(redirectTrailingSlash: false)))
    let state = RuntimeState(
        routes: table, upstreams: ["fuzz": upstream], generation: 1,
        pathNormalizer: PathNormalizer(mergeSlashes: options & 1 != 0, escapedSlashes: escaped),
        requestBufferSize: options & 0x08 != 0 ? 0 : 64 * 1024)
    return (ProxyContext(state: state, stats: GatewayStats(), logger: environment.logger, accessLog: nil), server)
}

func run(options: UInt8, more: UInt8, _ input: [UInt8]) {
    // Second option byte, bit 0: half-close only once the gateway has gone quiet (30 ms without output, at most
    // 1 s), not right after the last byte. An immediate half-close is what finding 1b needs.
    let delayedHalfClose = more & 1 != 0
    upstreamMode = UpstreamMode(rawValue: Int(options >> 4) & 7)!
    immediateHalfClose = !delayedHalfClose
    record.withLockedValue { $0 = UpstreamRecord(open: $0.open) }
    let shared: ProxyContext
    let upstreamServer: UpstreamServer
    do {
        (shared, upstreamServer) = try makeGateway(options: options)
    } catch {
        fail("building the gateway: \(error)")
    }
    var settings = ServerConfiguration(maxBodySize: 1024 * 1024, requestReadTimeout: .seconds(5), idleTimeout: .seconds(5))
    settings.validateOutboundHeaders = false  // as the gateway runs it
    let configuration = settings

    var fds: [Int32] = [0, 0]
    guard socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds) == 0 else { fail("socketpair: \(errno)") }
    let client = fds[1]
    let channel: any Channel
    do {
        channel = try ClientBootstrap(group: environment.group)
            .channelOption(.allowRemoteHalfClosure, value: true)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try HTTPServer.configureHTTP(channel: channel, configuration: configuration)
                    try channel.pipeline.syncOperations.addHandler(ProxyHandler(shared: shared))
                }
            }
            .withConnectedSocket(fds[0]).wait()
    } catch {
        fail("registering the gateway's end: \(error)")
    }

    // Write everything, half-close, read until EOF; never block on either side.
    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
    var written = 0
    var halfClosed = false
    var output: [UInt8] = []
    var eof = false
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    let start = NIODeadline.now()
    var lastOutput = start
    var writtenAt: NIODeadline?
    while !eof && NIODeadline.now() - start < .seconds(6) {
        if written < input.count {
            let count = input[written...].withUnsafeBytes { send(client, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if count > 0 { written += count } else if count < 0 && errno != EAGAIN && errno != EINTR { written = input.count }
        }
        if written >= input.count && !halfClosed {
            if writtenAt == nil { writtenAt = .now() }
            let quiet = NIODeadline.now() - lastOutput > .milliseconds(30) && NIODeadline.now() - writtenAt! > .milliseconds(30)
            if !delayedHalfClose || quiet || NIODeadline.now() - writtenAt! > .seconds(1) {
                shutdown(client, Int32(SHUT_WR))
                halfClosed = true
            }
        }
        var poller = pollfd(fd: client, events: Int16(POLLIN), revents: 0)
        if poll(&poller, 1, 5) > 0 {
            let count = buffer.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if count > 0 {
                output += buffer[..<count]
                lastOutput = .now()
            } else if count == 0 || (errno != EAGAIN && errno != EINTR) {
                eof = true
            }
        }
    }
    close(client)
    let stillOpen = !eof
    if stillOpen { try? channel.close().wait() }
    try? channel.closeFuture.wait()

    // Retire this input's pools and wait until the upstream has seen each of their connections close.
    upstreamServer.close()
    let waitStart = NIODeadline.now()
    while record.withLockedValue({ $0.open }) > 0 && NIODeadline.now() - waitStart < .seconds(3) { usleep(200) }
    let upstream = record.withLockedValue { $0 }
    if upstream.open > 0 { fail("upstream connections still open 3 s after the client left: \(upstream.open)") }

    let reference = ReferenceParser.parse(input)
    let context = {
        "\nreference: \(reference.heads.count) heads, \(reference.ends) ends, errored \(reference.errored) \(reference.errors)"
            + "\nupstream saw: \(upstream.heads.map { "\($0.method) \($0.uri)" }) errors \(upstream.parseErrors)"
            + "\nmode \(upstreamMode), output: \(escaped(output.prefix(4096)))"
    }
    if verbose { say("options \(options)" + context()) }
    // (4)
    if stillOpen { fail("the gateway kept the connection open 6 s after the client's half-close" + context()) }
    // (3)
    if !upstream.parseErrors.isEmpty { fail("the upstream could not parse what the gateway sent" + context()) }
    // (1)
    if upstream.heads.count > reference.heads.count + (options & 0x80 != 0 ? reference.heads.count : 0) {
        fail("the upstream got \(upstream.heads.count) requests, the client's bytes hold \(reference.heads.count)" + context())
    }
    if upstream.heads.count > reference.heads.count && upstreamMode != .hangUp {
        fail("the upstream got \(upstream.heads.count) requests, the client's bytes hold \(reference.heads.count)" + context())
    }
    // (2)
    let methods = reference.heads.map(\.method)
    let responses: [WireResponse]
    switch ResponseReader.read(output, method: { $0 < methods.count ? methods[$0] : .GET }, closed: true) {
    case .success(let read): responses = read
    case .failure(let failure):
        if knownLostAnswer(reference: reference, upstream: upstream) { return }
        fail("malformed output: \(failure)" + context())
    }
    let finals = responses.filter { !$0.isInformational }.count
    // (2b) an answer the upstream gave reaches the client, in some form.
    if finals == 0, !upstream.heads.isEmpty, upstreamMode != .hangUp {
        if knownLostAnswer(reference: reference, upstream: upstream) { return }
        fail("the upstream answered \(upstream.heads.count) requests, the client got no answer at all" + context())
    }
    if finals > reference.heads.count + (reference.errored ? 1 : 0) {
        fail("\(finals) final responses for \(reference.heads.count) requests (parser errored: \(reference.errored))" + context())
    }
}

/// Regression FuzzGateway/lost-answer-after-parse-error (reported, not fixed here: SluiceServer's): a parser error
/// held back by NIO's pipelining handler is delivered inside the write of the answer's `.end`, and
/// `RequestGuard.reject` then closes at once, so the answer's unflushed parts are dropped: no answer, or a truncated
/// one. Skipped (so that fuzzing goes on past it) unless `FUZZ_STRICT=1`.
let strict = getenv("FUZZ_STRICT") != nil

/// 1b: the same when the client half-closes at once after pipelined requests: NIO's pipelining handler holds the
/// half-close back and delivers it inside the write of the last answer's `.end`; `RequestGuard` sees nothing in
/// flight and closes at once, dropping every unflushed answer (`regressions/FuzzGateway/lost-answers-after-half-close`).
nonisolated(unsafe) var immediateHalfClose = true

func knownLostAnswer(reference: ReferenceParse, upstream: UpstreamRecord) -> Bool {
    !strict && (reference.errored || immediateHalfClose) && !upstream.heads.isEmpty
}

func fail(_ message: String) -> Never {
    var text = "FuzzGateway invariant failed: \(message)\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    fatalError("FuzzGateway invariant failed")
}

/// A line on stderr, unbuffered (libFuzzer leaves without flushing stdout).
func say(_ message: String) {
    var text = message + "\n"
    text.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
}
