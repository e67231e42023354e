import Logging
import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceRedis
import SluiceRouter
import SluiceServer
import SluiceTraffic

/// Forwards the requests of one client connection to upstreams and streams the answers back.
///
/// Everything happens on the connection's event loop: the upstream connection comes from that loop's pool, parts
/// are forwarded as they arrive, and each side's reads pause while the other side cannot take more (backpressure
/// both ways), so a 1 GiB body passes through in bounded memory. NIO's pipelining handler feeds one request at a
/// time; this handler serves it, then is idle until the next.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamExchange {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    enum Phase {
        /// No request in progress.
        case idle
        /// Waiting for an upstream connection; request parts are buffered.
        case connecting
        /// Request parts go upstream as they arrive; response parts come back.
        case forwarding
        /// The gateway answered itself (404, 502, ...); the rest of the request is dropped.
        case answered
        /// The server layer rejected the request (413, 408) and closes the connection.
        case aborted
    }

    let shared: ProxyContext
    var context: ChannelHandlerContext?
    var phase = Phase.idle
    /// Bumped per request, so that a late pool callback for an earlier request is recognised.
    var sequence = 0

    // The current request.
    /// The configuration the request started on: it keeps it to the end, whatever a reload installs meanwhile.
    var state: RuntimeState?
    /// Bodies up to this size are read whole before connecting (`request_buffer_size` of the request's state).
    var requestBufferSize: Int { state?.requestBufferSize ?? 0 }
    var route: ProxyRoute?
    /// The upstream chosen for this request (the route's, a side of its split, or its canary).
    var upstream: UpstreamPool?
    /// Whether this request is counted in `upstream.activeRequests`, and whether as a retry in `activeRetries`.
    var countedActive = false
    var countedRetry = false
    /// For split draws and backoff jitter; seeded once per connection.
    var random = SplitMix64Generator(state: UInt64.random(in: 0...UInt64.max))
    var clientHead: HTTPRequestHead?
    var upstreamHead: HTTPRequestHead?
    var framing = BodyFraming.none
    var buffered: [HTTPClientRequestPart] = []
    var bufferedBytes = 0
    var requestEnded = false
    /// Waiting for a small body to arrive whole before connecting (`request_buffer_size`).
    var awaitingBody = false
    /// The whole request is kept in `buffered`, so it can be sent again on a retry.
    var replayable = false
    /// The response head told the client `Connection: close`.
    var headSaidClose = false
    var bodyForwarded = false
    var clientKeepAlive = true
    var connection: UpstreamConnection?
    var tried: [UpstreamServer] = []
    /// Tries of this request that never reached a server (connect refused or timed out): they do not use up
    /// `retries`.
    var unreachedTries = 0
    var responseStarted = false
    var upstreamReusable = true
    var upstreamNeedsFlush = false
    var startTime = NIODeadline.uptimeNanoseconds(0)
    var responseStatus: UInt = 0
    /// Body bytes sent to the client for this request (the access log's `$body_bytes_sent`).
    var bytesSent = 0

    // Traffic control for the current request.
    var ticket = TrafficTicket()
    var gateStep = GateStep.fault
    /// The longest `pace=` wait the rate limits asked for.
    var paceDelay = Duration.zero
    /// When the request was first sent towards the upstream (after the gates): the start of its RTT.
    var upstreamStart = Duration.zero
    /// What the upstream did for this request, for the breakers, limiters and degrade rules.
    var outcome: TrafficTicket.Outcome?
    /// The client's address once `trusted_proxies` were applied (per request: X-Forwarded-For may differ).
    var resolvedClientIP: String?

    // Backpressure on the client: reads are held while buffering or while the upstream cannot take more.
    var clientReadsPaused = false
    var clientReadPending = false

    // One lazy timer: the response-head timeout, then the idle timeout while bodies stream.
    var deadline: NIODeadline?
    var timer: Scheduled<Void>?
    /// When the pending `timer` fires.
    var timerAt = NIODeadline.uptimeNanoseconds(0)

    /// Buffered request bytes while connecting, before client reads pause.
    static let bufferLimit = 64 * 1024

    init(shared: ProxyContext) {
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

    /// The handler and its context hold each other: let go, or every connection would outlive its channel.
    func handlerRemoved(context: ChannelHandlerContext) {
        releaseConnection(reusable: false)
        stopTimer()
        self.context = nil
    }

    // MARK: Client side

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): receiveHead(head, context: context)
        case .body(let body): receiveBody(body)
        case .end(let trailers): receiveEnd(trailers)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        if upstreamNeedsFlush, let connection {
            upstreamNeedsFlush = false
            connection.flush()
            if clientReadsPaused && phase == .forwarding && connection.isWritable { resumeClientReads() }
        }
        context.fireChannelReadComplete()
    }

    func read(context: ChannelHandlerContext) {
        if clientReadsPaused {
            clientReadPending = true
        } else {
            context.read()
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            connection?.resumeReads()
            // The client drained what we sent: progress, even though the upstream was paused meanwhile.
            if responseStarted { touchIdleTimer() }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client went away: whatever the upstream was doing for it is wasted and its connection out of step.
        if phase == .connecting || phase == .forwarding {
            shared.stats.aborted.wrappingIncrement(ordering: .relaxed)
        }
        releaseConnection(reusable: false)
        stopTimer()
        endAccounting()
        phase = .idle
        sequence += 1
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPServerError {
            // RequestGuard answered (413/408) and closes the connection.
            releaseConnection(reusable: false)
            cancelTimer()
            phase = .aborted
        }
        context.fireErrorCaught(error)
    }

    func receiveHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        sequence += 1
        shared.stats.requests.wrappingIncrement(ordering: .relaxed)
        startTime = .now()
        clientHead = head
        clientKeepAlive = head.isKeepAlive
        requestEnded = false
        bodyForwarded = false
        responseStarted = false
        upstreamReusable = true
        responseStatus = 0
        bytesSent = 0
        headSaidClose = false
        awaitingBody = false
        replayable = false
        buffered.removeAll(keepingCapacity: true)
        bufferedBytes = 0
        tried.removeAll(keepingCapacity: true)
        unreachedTries = 0
        framing = ProxyHeaders.framing(of: head)

        let state = shared.state
        self.state = state
        // The target as routed and forwarded: origin-form, its path normalised (RFC 3986 §5.2.4, §6.2.2), the
        // query as it came.
        var uri = head.uri
        var host = head.headers.first(name: "host")
        if uri.utf8.first != UInt8(ascii: "/") {
            if uri == "*" {
                // OPTIONS * asks about the server itself (RFC 9110 §9.3.7): the gateway answers for itself.
                answer(.ok, "", extra: [("allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")])
                return
            }
            if host == nil { host = RequestHeadCheck.authority(of: uri) }
            uri = RequestHeadCheck.originForm(of: uri)
        }
        let query: Substring
        var path: Substring
        if let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = uri[..<question]
            query = uri[question...]
        } else {
            path = uri[...]
            query = ""
        }
        do {
            if case .normalized(let normal) = try state.pathNormalizer.normalize(path) {
                uri = query.isEmpty ? normal : normal + query
                path = uri.prefix(normal.utf8.count)
            }
        } catch {
            shared.stats.badRequests.wrappingIncrement(ordering: .relaxed)
            clientKeepAlive = false  // like nginx: a client that sends such paths gets no second request
            answer(.badRequest, "bad request path: \(error)\n")
            return
        }
        switch state.routes.lookup(host: host, method: head.method.rawValue, path: path) {
        case .found(let route, _):
            if head.method == .TRACE && !route.allowsTrace {
                answer(.methodNotAllowed, "TRACE is not allowed\n", extra: [("allow", "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS")])
                return
            }
            self.route = route
            let splitHash = route.splitKey.flatMap { requestHash($0, head: head, context: context) }
            let upstream = route.chooseUpstream(headers: head.headers, hash: splitHash, random: &random)
            self.upstream = upstream
            upstream.activeRequests.wrappingIncrement(ordering: .relaxed)
            countedActive = true
        case .methodNotAllowed(let allowed):
            answer(.methodNotAllowed, "method not allowed\n", extra: [("allow", allowed.joined(separator: ", "))])
            return
        case .notFound, .redirect:
            shared.stats.notFound.wrappingIncrement(ordering: .relaxed)
            answer(.notFound, "no route\n")
            return
        }
        let requestID = head.headers.first(name: "x-request-id").flatMap { RequestIDs.isAcceptable($0) ? $0 : nil }
            ?? RequestIDs.make()
        let peer = clientAddress(context)
        upstreamHead = ProxyHeaders.upstreamRequest(
            head, uri: uri, framing: framing, clientAddress: peer,
            trustedPeer: !state.trustedProxies.ranges.isEmpty && peer.map { state.trustedProxies.isTrusted($0) } == true,
            scheme: "http",
            requestID: requestID, hostRewrite: route?.hostRewrite)
        phase = .connecting
        outcome = nil
        resolvedClientIP = nil
        if route?.traffic == nil && upstream?.traffic == nil && state.protection == nil {
            proceed()
        } else {
            ticket = TrafficTicket()
            paceDelay = .zero
            gateStep = .fault
            runGates()
        }
    }

    /// The gates let the request through: ask for the body if the client waits for it, then connect.
    func proceed() {
        guard let context, let clientHead else { return }
        if clientHead.version.minor >= 1, !requestEnded,
            clientHead.headers.first(name: "expect")?.lowercased() == "100-continue"
        {
            // Like nginx: the gateway asks for the body itself rather than relaying the upstream's 100.
            let continueHead = HTTPResponseHead(version: clientHead.version, status: .continue)
            context.writeAndFlush(wrapOutboundOut(.head(continueHead)), promise: nil)
        }
        // A small body is read whole before an upstream connection is taken: a slow uploader holds no pool slot.
        if framing != .none && !requestEnded && bufferedBytes <= requestBufferSize {
            awaitingBody = true
            resumeClientReads()  // reads may have paused while the gates ran
            return
        }
        connect()
    }

    /// The client's IP, formatted once per connection.
    var cachedClientAddress: String??

    func clientAddress(_ context: ChannelHandlerContext) -> String? {
        if let cached = cachedClientAddress { return cached }
        let address = context.channel.remoteAddress?.ipAddress
        cachedClientAddress = .some(address)
        return address
    }

    func receiveBody(_ body: ByteBuffer) {
        switch phase {
        case .connecting:
            buffered.append(.body(.byteBuffer(body)))
            bufferedBytes += body.readableBytes
            if awaitingBody {
                guard bufferedBytes > requestBufferSize else { return }
                awaitingBody = false
                connect()
            } else if bufferedBytes > Self.bufferLimit {
                pauseClientReads()
            }
        case .forwarding:
            guard let connection else { return }
            connection.write(.body(.byteBuffer(body)))
            bodyForwarded = true
            upstreamNeedsFlush = true
            if !connection.isWritable { pauseClientReads() }
            if !responseStarted { touchIdleTimer() }
        case .idle, .answered, .aborted:
            break
        }
    }

    func receiveEnd(_ trailers: HTTPHeaders?) {
        requestEnded = true
        switch phase {
        case .connecting:
            buffered.append(.end(ProxyHeaders.upstreamTrailers(trailers)))
            if awaitingBody {
                awaitingBody = false
                connect()
            }
        case .forwarding:
            guard let connection else { return }
            connection.write(.end(ProxyHeaders.upstreamTrailers(trailers)))
            connection.flush()
            upstreamNeedsFlush = false
            if !ticket.isEmpty { upstreamStart = TrafficClock.now() }
            if !responseStarted, let route { arm(after: tryTimeout(route)) }
        case .answered:
            phase = .idle
        case .idle, .aborted:
            break
        }
    }

    // MARK: Upstream side

    func connect() {
        guard let upstream, let context, let clientHead else { return }
        let hash = upstream.wantsHash ? requestHash(upstream.hashKey, head: clientHead, context: context) : nil
        guard let server = upstream.pick(on: context.eventLoop, excluding: tried, hash: hash) else {
            fail(.badGateway, "no upstream server left to try\n")
            return
        }
        tried.append(server)
        if !ticket.isEmpty { upstreamStart = TrafficClock.now() }  // moved on to when the request is fully sent
        let expected = sequence
        let pending = upstream.traffic?.maxPending
        if let pending, !pending.tryAcquire() {
            shared.stats.overflow.wrappingIncrement(ordering: .relaxed)
            fail(.serviceUnavailable, "upstream max_pending reached\n")
            return
        }
        let pool = server.pool(on: context.eventLoop)
        if let connection = pool.takeIdle() {
            pending?.release()
            start(on: connection)
            return
        }
        pool.acquire { [self] result in
            pending?.release()
            guard expected == sequence, phase == .connecting else {
                // The request ended (client gone, or answered) while we waited.
                if case .success(let connection) = result { connection.pool?.release(connection, reusable: true) }
                return
            }
            switch result {
            case .success(let connection):
                start(on: connection)
            case .failure(.connectFailed(let reason)):
                record(.unreachable(reason: reason), at: server)
                retryOr(.badGateway, "upstream connect failed\n", condition: .connectFailure)
            case .failure(.queueFull), .failure(.queueTimeout), .failure(.closed):
                fail(.serviceUnavailable, "upstream busy\n")
            }
        }
    }

    func start(on connection: UpstreamConnection) {
        guard let upstreamHead else { return }
        self.connection = connection
        connection.exchange = self
        connection.requestCount += 1
        phase = .forwarding
        connection.write(.head(upstreamHead))
        for part in buffered {
            if case .body = part { bodyForwarded = true }
            connection.write(part)
        }
        if requestEnded && bufferedBytes <= requestBufferSize {
            // The whole request is here: keep it, so that a retry can send it again.
            replayable = true
        } else {
            buffered.removeAll(keepingCapacity: true)
            bufferedBytes = 0
        }
        connection.flush()
        if requestEnded && !ticket.isEmpty { upstreamStart = TrafficClock.now() }
        if let route {
            if requestEnded { arm(after: tryTimeout(route)) } else { arm(after: route.idleTimeout) }
        }
        if connection.isWritable { resumeClientReads() }
    }
}
