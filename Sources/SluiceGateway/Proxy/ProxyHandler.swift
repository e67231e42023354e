import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPCompression
import SluiceConfig
import SluiceFilters
import SluiceRedis
import SluiceRouter
import SluiceServer
import SluiceTraffic

/// Forwards the requests of one client connection to upstreams and streams the answers back.
///
/// Everything happens on the connection's event loop: the upstream connection comes from that loop's pool, parts
/// are forwarded as they arrive, and each side's reads pause while the other side cannot take more (backpressure
/// both ways), so a 1 GiB body passes through in bounded memory. `RequestGuard` feeds one request at a time; this
/// handler serves it, then is idle until the next.
final class ProxyHandler: ChannelDuplexHandler, RemovableChannelHandler, UpstreamExchange {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    let shared: ProxyContext
    var context: ChannelHandlerContext?
    /// Every decision about the current request; this handler only carries them out.
    var machine = ProxyRequestMachine()
    /// Bumped per request, so that a late pool callback or timer for an earlier request is recognised.
    var sequence = 0

    // The current request.
    /// The configuration the request started on: it keeps it to the end, whatever a reload installs meanwhile.
    var state: RuntimeState?
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
    /// Request parts held while gating and connecting, and kept for retries when the request is small and whole.
    var buffered: [HTTPClientRequestPart] = []
    var connection: UpstreamConnection?
    var tried: [UpstreamServer] = []
    var upstreamNeedsFlush = false
    var startTime = NIODeadline.uptimeNanoseconds(0)
    var responseStatus: UInt = 0
    /// Body bytes sent to the client for this request (the access log's `$body_bytes_sent`).
    var bytesSent = 0
    /// Request body bytes received from the client.
    var bytesReceived = 0
    /// The request's id and the `traceparent` sent upstream (for the access log).
    var requestID: String?
    var traceparent: String?
    /// When the current try's request went upstream, and the time all tries spent upstream so far.
    var tryStart = NIODeadline.uptimeNanoseconds(0)
    /// The zone of the server of the current try.
    var tryZone: String?
    var upstreamTime: Duration?

    // Traffic control for the current request.
    /// Where the request is in the gates, and what it holds from them (`gates.ticket`).
    var gates = RequestGates()
    /// When the request was first sent towards the upstream (after the gates): the start of its RTT.
    var upstreamStart = Duration.zero
    /// What the upstream did for this request, for the breakers, limiters and degrade rules.
    var outcome: TrafficTicket.Outcome?
    /// The client's address once `trusted_proxies` were applied (per request: X-Forwarded-For may differ).
    var resolvedClientIP: String?
    /// Who the request is from, once the route's `auth` passed it (a rate-limit key, `$identity`).
    var identity: String?
    /// The route's path parameters and the target as routed (normalised, before rewrites), for the filters.
    var params: Parameters?
    var routedURI: String?
    /// Per connection: the peer's address in canonical form, the last `allow`/`deny` decision, the last API key and
    /// what it passed as (a keep-alive client repeats them; each is worked out once).
    var canonicalPeer: String?
    var lastAccess: (rules: ObjectIdentifier, address: String, permitted: Bool)?
    var lastKey: (auth: ObjectIdentifier, key: Substring, pass: Authenticator.Pass)?

    // Backpressure on the client: reads are held while buffering or while the upstream cannot take more.
    var clientReadsPaused = false
    var clientReadPending = false

    // One lazy timer: the response-head timeout, then the idle timeout while bodies stream.
    var deadline: NIODeadline?
    var timer: Scheduled<Void>?
    /// When the pending `timer` fires.
    var timerAt = NIODeadline.uptimeNanoseconds(0)

    /// The current request is an HTTP/2 extended CONNECT (WebSocket over HTTP/2): a switch is answered 200.
    var extendedConnect = false
    /// The current request is a gRPC call (`TE: trailers`, `content-type: application/grpc…`).
    var grpcCall = false
    /// The status fields of a gRPC trailers-only answer, sent as the answer's trailers.
    var grpcTrailers: HTTPHeaders?
    /// The response compressor's context, when the connection has one (`gzip = on` somewhere in the config).
    var compressorContext: ChannelHandlerContext?
    /// Whether the client connection is TLS: `X-Forwarded-Proto: https`, and the route's `hsts`.
    let secure: Bool

    init(shared: ProxyContext, secure: Bool = false) {
        self.shared = shared
        self.secure = secure
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        compressorContext = try? context.pipeline.syncOperations.context(handlerType: HTTPResponseCompressor.self)
    }

    /// The handler and its context hold each other: let go, or every connection would outlive its channel.
    func handlerRemoved(context: ChannelHandlerContext) {
        releaseConnection(reusable: false)
        stopTimer()
        self.context = nil
        compressorContext = nil
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
            if clientReadsPaused && connection.isWritable
                && (machine.phase == .forwarding || machine.phase == .responding)
            {
                resumeClientReads()
            }
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
            if machine.phase == .responding, let idle = machine.progressed() { arm(after: .nanoseconds(idle)) }
        }
        context.fireChannelWritabilityChanged()
    }

    func channelInactive(context: ChannelHandlerContext) {
        // The client went away: whatever the upstream was doing for it is wasted and its connection out of step.
        if machine.clientClosed() {
            shared.stats.aborted.wrappingIncrement(ordering: .relaxed)
        }
        releaseConnection(reusable: false)
        stopTimer()
        endAccounting()
        buffered.removeAll()
        sequence += 1
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is HTTPServerError {
            // RequestGuard answered (413/408) and closes the connection.
            releaseConnection(reusable: false)
            cancelTimer()
            machine.rejectedByServer()
        }
        context.fireErrorCaught(error)
    }

    // MARK: Phase: receive (then normalise and route, `RequestRouting`)

    func receiveHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
        sequence += 1
        shared.stats.requests.wrappingIncrement(ordering: .relaxed)
        startTime = .now()
        clientHead = head
        responseStatus = 0
        bytesSent = 0
        bytesReceived = 0
        upstreamTime = nil
        gates.marks = []
        // A gRPC call (gRPC content type and `TE: trailers`; not gRPC-Web) gets the gateway's own failures as
        // gRPC statuses, even before it is routed.
        grpcCall = GRPCAnswer.isGRPC(contentType: head.headers.first(name: "content-type"))
            && head.headers[canonicalForm: "te"].contains { $0.lowercased() == "trailers" }
        requestID = nil
        traceparent = nil
        buffered.removeAll(keepingCapacity: true)
        tried.removeAll(keepingCapacity: true)
        let framing = ProxyHeaders.framing(of: head)
        machine.receivedHead(keepAlive: head.isKeepAlive, hasBody: framing != .none)

        let state = shared.state
        self.state = state
        let route: ProxyRoute
        var uri: String
        identity = nil
        resolvedClientIP = nil
        switch RequestRouting.route(head, in: state) {
        case .routed(let found, let target, let params):
            (route, uri) = (found, target)
            self.params = params
        case .refused(let refusal):
            return refuse(refusal)
        }
        self.route = route
        routedURI = uri
        if let filters = route.filters {
            guard let target = filterRouted(filters, head: head, uri: uri, context: context) else { return }
            uri = target
        }
        let splitHash = route.splitKey.flatMap { requestHash($0, head: head, context: context) }
        let upstream = route.chooseUpstream(headers: head.headers, hash: splitHash, random: &random)
        self.upstream = upstream
        upstream.activeRequests.wrappingIncrement(ordering: .relaxed)
        countedActive = true
        let requestID = head.headers.first(name: "x-request-id").flatMap { RequestIDs.isAcceptable($0) ? $0 : nil }
            ?? RequestIDs.make()
        self.requestID = requestID
        let traceparent = TraceContext.upstreamHeader(
            incoming: head.headers.first(name: "traceparent"), requestID: requestID, spanID: random.next() | 1,
            newTraceID: RequestIDs.make)
        self.traceparent = traceparent
        let peer = clientAddress(context)
        var hops = ProxyHeaders.HopFacts()
        upstreamHead = ProxyHeaders.upstreamRequest(
            head, uri: uri, framing: framing, clientAddress: peer,
            trustedPeer: !state.trustedProxies.ranges.isEmpty && peer.map { state.trustedProxies.isTrusted($0) } == true,
            scheme: secure ? "https" : "http",
            requestID: requestID, hostRewrite: route.hostRewrite, traceparent: traceparent, hops: &hops,
            extraCapacity: route.filters?.requestCapacity ?? 0)
        // RFC 8441: an HTTP/2 extended CONNECT for a WebSocket, marked by the stream's adapter.
        extendedConnect = head.method == .GET
            && head.headers.first(name: ExtendedConnect.marker)?.lowercased() == "websocket"
            && HTTPServer.isHTTP2Stream(context.channel)
        if extendedConnect {
            guard route.websocket else {
                answer(.methodNotAllowed, "WebSocket is off on this route\n")
                return
            }
            // The HTTP/1.1 handshake upstream needs a key the HTTP/2 client does not send (RFC 8441 §5).
            upstreamHead!.headers.replaceOrAdd(name: "sec-websocket-key", value: WebSocketKey.make(using: &random))
        }
        let upgrade = (hops.webSocket || extendedConnect) && route.websocket
        if grpcCall {
            // A gRPC client takes trailers: say it on, as nginx's grpc_pass does (other TE fields end here).
            upstreamHead!.headers.add(name: "te", value: "trailers")
        }
        if upgrade {
            upstreamHead!.headers.add(name: "connection", value: "upgrade")
            upstreamHead!.headers.add(name: "upgrade", value: "websocket")
        }
        machine.routed(
            ProxyRequestMachine.Request(
                expectsContinue: head.version.minor >= 1
                    && head.headers.first(name: "expect")?.lowercased() == "100-continue",
                bufferSize: state.requestBufferSize, idempotent: head.method.isIdempotent,
                retryPolicy: route.retryPolicy, retryNonIdempotent: route.retryNonIdempotent,
                serverCount: upstream.servers.count, responseTimeout: tryTimeout(route).nanoseconds,
                idleTimeout: route.idleTimeout.nanoseconds, upgrade: upgrade))
        outcome = nil
        if let auth = route.filters?.auth {
            runAuth(auth, head: head, context: context)
        } else if route.filters == nil && route.traffic == nil && upstream.traffic == nil && state.protection == nil {
            proceed()
        } else {
            requestReady()
        }
    }

    /// Answers a request that could not be routed.
    func refuse(_ refusal: RequestRouting.Refusal) {
        let allowAll = [("allow", RequestHeadCheck.serverMethods)]
        switch refusal {
        case .serverOptions:
            answer(.ok, "", extra: allowAll)
        case .badPath(let error):
            shared.stats.badRequests.wrappingIncrement(ordering: .relaxed)
            machine.closeAfterAnswer()
            answer(.badRequest, "bad request path: \(error)\n")
        case .notFound:
            shared.stats.notFound.wrappingIncrement(ordering: .relaxed)
            answer(.notFound, "no route\n")
        case .methodNotAllowed(let allowed):
            answer(.methodNotAllowed, "method not allowed\n", extra: [("allow", allowed.joined(separator: ", "))])
        case .traceNotAllowed:
            answer(.methodNotAllowed, "TRACE is not allowed\n", extra: allowAll)
        }
    }

    /// The gates let the request through: ask for the body if the client waits for it, then connect (a small body
    /// is read whole first: a slow uploader holds no pool slot).
    func proceed() {
        guard let context, let clientHead else { return }
        if let direct = route?.filters?.directAnswer { return answerDirect(direct) }
        let sendContinue: Bool
        let connectNow: Bool
        switch machine.gatesPassed() {
        case .connect(let send): (sendContinue, connectNow) = (send, true)
        case .readBody(let send): (sendContinue, connectNow) = (send, false)
        case .none: return
        }
        if sendContinue {
            // Like nginx: the gateway asks for the body itself rather than relaying the upstream's 100.
            let continueHead = HTTPResponseHead(version: clientHead.version, status: .continue)
            // Past the compressor, which takes one response head per request.
            (compressorContext ?? context).writeAndFlush(wrapOutboundOut(.head(continueHead)), promise: nil)
        }
        if connectNow {
            connect()
        } else {
            resumeClientReads()  // reads may have paused while the gates ran
        }
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
        bytesReceived += body.readableBytes
        switch machine.receivedBody(bytes: body.readableBytes) {
        case .buffer(let connectNow, let pauseReads):
            buffered.append(.body(.byteBuffer(body)))
            if pauseReads { pauseClientReads() }
            if connectNow { connect() }
        case .forward(let idle):
            guard let connection else { return }
            connection.write(.body(.byteBuffer(body)))
            upstreamNeedsFlush = true
            if !connection.isWritable { pauseClientReads() }
            if let idle { arm(after: .nanoseconds(idle)) }
        case .drop:
            break
        }
    }

    func receiveEnd(_ trailers: HTTPHeaders?) {
        switch machine.receivedEnd() {
        case .buffer(let connectNow):
            buffered.append(.end(ProxyHeaders.upstreamTrailers(trailers)))
            if connectNow { connect() }
        case .forward(let responseTimeout):
            guard let connection else { return }
            let expected = sequence
            connection.write(.end(ProxyHeaders.upstreamTrailers(trailers)))
            connection.flush()  // a failed write may end this try (and start the next) from inside the flush
            upstreamNeedsFlush = false
            if let responseTimeout, expected == sequence, machine.timerArmed {
                if !gates.ticket.isEmpty { upstreamStart = TrafficClock.now() }
                arm(after: .nanoseconds(responseTimeout))
            }
        case .none:
            break
        }
    }

    // MARK: Phases: pick, connect or reuse, forward

    func connect() {
        guard let upstream, let context, let clientHead else { return }
        if tried.isEmpty, let mirror = route?.filters?.mirror { mirrorRequest(mirror, context: context) }
        let hash = upstream.wantsHash ? requestHash(upstream.hashKey, head: clientHead, context: context) : nil
        guard let server = upstream.pick(on: context.eventLoop, excluding: tried, hash: hash) else {
            return carryOut(machine.connectFailed(.noServer, budget: { false }, random: &random))
        }
        tried.append(server)
        tryZone = server.zone
        machine.tryStarted()
        if !gates.ticket.isEmpty { upstreamStart = TrafficClock.now() }  // moved on to when the request is fully sent
        let expected = sequence
        let pending = upstream.traffic?.maxPending
        if let pending, !pending.tryAcquire() {
            shared.stats.overflow.wrappingIncrement(ordering: .relaxed)
            return carryOut(machine.connectFailed(.pendingLimit, budget: { false }, random: &random))
        }
        let pool = server.pool(on: context.eventLoop)
        if let connection = pool.takeIdle() {
            pending?.release()
            start(on: connection)
            return
        }
        pool.acquire { [self] result in
            pending?.release()
            guard expected == sequence, machine.phase == .connecting else {
                // The request ended (client gone, or answered) while we waited.
                if case .success(let connection) = result { connection.pool?.release(connection, reusable: true) }
                return
            }
            switch result {
            case .success(let connection):
                start(on: connection)
            case .failure(.connectFailed(let reason)):
                record(.unreachable(reason: reason), at: server)
                carryOut(machine.connectFailed(.unreachable, budget: upstream.allowsRetry, random: &random))
            case .failure(.queueFull), .failure(.queueTimeout), .failure(.closed):
                carryOut(machine.connectFailed(.busy, budget: upstream.allowsRetry, random: &random))
            }
        }
    }

    func start(on connection: UpstreamConnection) {
        guard let upstreamHead, let start = machine.connected() else {
            connection.pool?.release(connection, reusable: true)
            return
        }
        self.connection = connection
        connection.exchange = self
        connection.requestCount += 1
        connection.write(.head(upstreamHead))
        tryStart = .now()
        for part in buffered { connection.write(part) }
        if !start.keepBuffered { buffered.removeAll(keepingCapacity: true) }
        let expected = sequence
        connection.flush()  // a failed write may end this try (and start the next) from inside the flush
        guard expected == sequence, self.connection === connection else { return }
        if start.requestSent && !gates.ticket.isEmpty { upstreamStart = TrafficClock.now() }
        arm(after: .nanoseconds(start.timeout))
        if connection.isWritable { resumeClientReads() }
    }
}
