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

    private enum Phase {
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

    fileprivate let shared: ProxyContext
    fileprivate var context: ChannelHandlerContext?
    private var phase = Phase.idle
    /// Bumped per request, so that a late pool callback for an earlier request is recognised.
    fileprivate var sequence = 0

    // The current request.
    fileprivate var route: ProxyRoute?
    /// The upstream chosen for this request (the route's, a side of its split, or its canary).
    fileprivate var upstream: UpstreamPool?
    /// Whether this request is counted in `upstream.activeRequests`, and whether as a retry in `activeRetries`.
    private var countedActive = false
    private var countedRetry = false
    /// For split draws and backoff jitter; seeded once per connection.
    fileprivate var random = SplitMix64Generator(state: UInt64.random(in: 0...UInt64.max))
    fileprivate var clientHead: HTTPRequestHead?
    private var upstreamHead: HTTPRequestHead?
    private var framing = BodyFraming.none
    private var buffered: [HTTPClientRequestPart] = []
    private var bufferedBytes = 0
    private var requestEnded = false
    /// Waiting for a small body to arrive whole before connecting (`request_buffer_size`).
    private var awaitingBody = false
    /// The whole request is kept in `buffered`, so it can be sent again on a retry.
    private var replayable = false
    /// The response head told the client `Connection: close`.
    private var headSaidClose = false
    private var bodyForwarded = false
    private var clientKeepAlive = true
    private var connection: UpstreamConnection?
    private var tried: [UpstreamServer] = []
    private var responseStarted = false
    private var upstreamReusable = true
    private var upstreamNeedsFlush = false
    private var startTime = NIODeadline.uptimeNanoseconds(0)
    private var responseStatus: UInt = 0

    // Traffic control for the current request.
    fileprivate var ticket = TrafficTicket()
    fileprivate var gateStep = GateStep.fault
    /// The longest `pace=` wait the rate limits asked for.
    fileprivate var paceDelay = Duration.zero
    /// When the request was first sent towards the upstream (after the gates): the start of its RTT.
    private var upstreamStart = Duration.zero
    /// What the upstream did for this request, for the breakers, limiters and degrade rules.
    private var outcome: TrafficTicket.Outcome?
    /// The client's address once `trusted_proxies` were applied (per request: X-Forwarded-For may differ).
    fileprivate var resolvedClientIP: String?

    // Backpressure on the client: reads are held while buffering or while the upstream cannot take more.
    private var clientReadsPaused = false
    private var clientReadPending = false

    // One lazy timer: the response-head timeout, then the idle timeout while bodies stream.
    private var deadline: NIODeadline?
    private var timer: Scheduled<Void>?

    /// Buffered request bytes while connecting, before client reads pause.
    private static let bufferLimit = 64 * 1024

    init(shared: ProxyContext) {
        self.shared = shared
    }

    func handlerAdded(context: ChannelHandlerContext) { self.context = context }

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
        cancelTimer()
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

    private func receiveHead(_ head: HTTPRequestHead, context: ChannelHandlerContext) {
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
        headSaidClose = false
        awaitingBody = false
        replayable = false
        buffered.removeAll(keepingCapacity: true)
        bufferedBytes = 0
        tried.removeAll(keepingCapacity: true)
        framing = ProxyHeaders.framing(of: head)

        let state = shared.state
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
    fileprivate func proceed() {
        guard let context, let clientHead else { return }
        if clientHead.version.minor >= 1, !requestEnded,
            clientHead.headers.first(name: "expect")?.lowercased() == "100-continue"
        {
            // Like nginx: the gateway asks for the body itself rather than relaying the upstream's 100.
            let continueHead = HTTPResponseHead(version: clientHead.version, status: .continue)
            context.writeAndFlush(wrapOutboundOut(.head(continueHead)), promise: nil)
        }
        // A small body is read whole before an upstream connection is taken: a slow uploader holds no pool slot.
        if framing != .none && !requestEnded && bufferedBytes <= shared.state.requestBufferSize {
            awaitingBody = true
            return
        }
        connect()
    }

    /// The client's IP, formatted once per connection.
    private var cachedClientAddress: String??

    fileprivate func clientAddress(_ context: ChannelHandlerContext) -> String? {
        if let cached = cachedClientAddress { return cached }
        let address = context.channel.remoteAddress?.ipAddress
        cachedClientAddress = .some(address)
        return address
    }

    private func receiveBody(_ body: ByteBuffer) {
        switch phase {
        case .connecting:
            buffered.append(.body(.byteBuffer(body)))
            bufferedBytes += body.readableBytes
            if awaitingBody {
                guard bufferedBytes > shared.state.requestBufferSize else { return }
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

    private func receiveEnd(_ trailers: HTTPHeaders?) {
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

    private func connect() {
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
        server.pool(on: context.eventLoop).acquire { [self] result in
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
                noteOutcome(status: nil)
                shared.stats.connectFailures.wrappingIncrement(ordering: .relaxed)
                upstream.record(server, .gatewayFailure)
                shared.logger.warning(
                    "upstream connect failed",
                    metadata: ["upstream": "\(upstream.name)", "server": "\(server.target)", "error": "\(reason)"])
                retryOr(.badGateway, "upstream connect failed\n", condition: .connectFailure)
            case .failure(.queueFull), .failure(.queueTimeout), .failure(.closed):
                fail(.serviceUnavailable, "upstream busy\n")
            }
        }
    }

    /// The request's consistent-hash key, hashed; nil when the request does not carry it (a random server then).
    private func requestHash(_ key: HashKey, head: HTTPRequestHead, context: ChannelHandlerContext) -> UInt64? {
        switch key {
        case .clientIP:
            return clientAddress(context).map { KeyHash.hash($0) }
        case .path:
            return KeyHash.hash(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)[0])
        case .header(let name):
            return head.headers.first(name: name).map { KeyHash.hash($0) }
        case .cookie(let name):
            for header in head.headers[canonicalForm: "cookie"] {
                for pair in header.split(separator: ";") {
                    let trimmed = pair.drop { $0 == " " }
                    if trimmed.hasPrefix(name + "=") { return KeyHash.hash(trimmed.dropFirst(name.count + 1)) }
                }
            }
            return nil
        }
    }

    private func start(on connection: UpstreamConnection) {
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
        if requestEnded && bufferedBytes <= shared.state.requestBufferSize {
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

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard phase == .forwarding, let context else { return }
        switch part {
        case .head(let head):
            if head.status.code == 101 {
                // The gateway never asks an upstream to switch protocols: an unsolicited 101 is a broken answer.
                if let upstream, let server = tried.last { upstream.record(server, .gatewayFailure) }
                noteOutcome(status: nil)
                cancelTimer()
                fail(.badGateway, "upstream switched protocols unasked\n")
                return
            }
            guard head.status.code >= 200 else { return }  // 1xx: the gateway already sent its own 100
            let code = Int(head.status.code)
            if let upstream, let server = tried.last {
                upstream.record(server, code >= 500 ? .serverError(status: code) : .success)
            }
            noteOutcome(status: code)
            if code >= 500, retryAllowed(.status(code)) {
                // A retryable answer: drop it (and its connection, which would still deliver its body), try again.
                releaseConnection(reusable: false)
                cancelTimer()
                retry()
                return
            }
            responseStarted = true
            responseStatus = head.status.code
            upstreamReusable = head.isKeepAlive
            var response = ProxyHeaders.clientResponse(head, version: clientHead?.version ?? .http1_1)
            if !clientKeepAlive { response.headers.replaceOrAdd(name: "connection", value: "close") }
            headSaidClose = !clientKeepAlive
            context.write(wrapOutboundOut(.head(response)), promise: nil)
            if let route { arm(after: route.idleTimeout) }
        case .body(let body):
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if !context.channel.isWritable {
                // Pause before flushing: the flush may make the channel writable again, and report it, at once.
                connection?.pauseReads()
                context.flush()
                if context.channel.isWritable { connection?.resumeReads() }
            }
            touchIdleTimer()
        case .end(let trailers):
            shared.stats.upstreamResponses.wrappingIncrement(ordering: .relaxed)
            // A response that ends before its request was fully sent leaves both connections out of step.
            let reusable = upstreamReusable && requestEnded
            if !requestEnded { clientKeepAlive = false }
            releaseConnection(reusable: reusable)
            cancelTimer()
            finish(status: responseStatus)
            writeEnd(trailers, context: context)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(writable: Bool) {
        if writable && phase == .forwarding {
            resumeClientReads()
            touchIdleTimer()  // the upstream took what we sent
        }
    }

    func upstreamClosed(error: (any Error)?) {
        // Give the connection back first, whatever happens next: the pool counts it until then.
        releaseConnection(reusable: false)
        guard phase == .forwarding, let context else { return }
        cancelTimer()
        if responseStarted {
            // Part of the answer is out: the only honest thing left is to cut the client off.
            shared.stats.aborted.wrappingIncrement(ordering: .relaxed)
            phase = .aborted
            context.close(promise: nil)
            return
        }
        if let upstream, let server = tried.last { upstream.record(server, .gatewayFailure) }
        noteOutcome(status: nil)
        // Nothing came back (often a kept-alive connection the server closed in the meantime): try again when the
        // policy allows and the request can be sent again.
        retryOr(.badGateway, "upstream closed the connection\n", condition: .reset)
    }

    // MARK: Outcomes

    /// Tries another server if the retry policy, the budget and the request allow, otherwise answers `status`.
    private func retryOr(_ status: HTTPResponseStatus, _ body: String, condition: RetryCondition) {
        if retryAllowed(condition) {
            retry()
        } else {
            fail(status, body)
        }
    }

    /// Whether a try that failed with `condition` may be tried again on another server: the route retries on it,
    /// tries are left, there is another server, the request can be sent again (RFC 9110 §9.2.2: idempotent
    /// methods, or `retry_non_idempotent`; and no streamed body that is gone), and the retry budget has room.
    private func retryAllowed(_ condition: RetryCondition) -> Bool {
        guard let route, let upstream, let clientHead else { return false }
        let policy = route.retryPolicy
        guard policy.retries(on: condition), tried.count <= policy.retries, tried.count < upstream.servers.count else {
            return false
        }
        let nothingSent = condition == .connectFailure
        guard clientHead.method.isIdempotent || (route.retryNonIdempotent && nothingSent) else { return false }
        // The body is kept only until the first try starts; once streamed upstream it cannot be sent again.
        guard nothingSent || framing == .none || replayable else { return false }
        return upstream.allowsRetry()
    }

    /// Starts the next try after a jittered exponential backoff.
    private func retry() {
        guard let route, let upstream, let context else { return }
        shared.stats.retries.wrappingIncrement(ordering: .relaxed)
        if !countedRetry {
            countedRetry = true
            upstream.activeRetries.wrappingIncrement(ordering: .relaxed)
        }
        phase = .connecting
        // The first retry goes at once (it goes to another server); later ones back off with jitter.
        let base = route.retryPolicy.backoff
        let delay = tried.count <= 1 ? .zero : Backoff.delay(attempt: tried.count - 1, base: base, max: base * 10, using: &random)
        guard delay > .zero else { return connect() }
        let expected = sequence
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            guard expected == sequence, phase == .connecting else { return }
            connect()
        }
    }

    /// How long one try waits for its answer once the request is sent.
    private func tryTimeout(_ route: ProxyRoute) -> TimeAmount {
        route.retryPolicy.perTryTimeout.map { TimeAmount($0) } ?? route.timeout
    }

    /// Remembers what the upstream did (an answer's status, or nil for none) for the request's traffic ticket; a
    /// request that holds nothing from the gates skips the clock.
    private func noteOutcome(status: Int?) {
        guard !ticket.isEmpty else { return }
        let latency = TrafficClock.now() - upstreamStart
        outcome = status.map { .answered(status: $0, latency: latency) } ?? .failed(latency: latency)
    }

    /// Takes this request out of its upstream's in-flight counts, and settles its traffic ticket (once).
    private func endAccounting() {
        if !ticket.isEmpty {
            ticket.settle(outcome ?? .abandoned, now: TrafficClock.now(), stats: shared.stats, logger: shared.logger)
        }
        outcome = nil
        guard let upstream else { return }
        if countedActive {
            countedActive = false
            upstream.activeRequests.wrappingDecrement(ordering: .relaxed)
        }
        if countedRetry {
            countedRetry = false
            upstream.activeRetries.wrappingDecrement(ordering: .relaxed)
        }
    }

    /// Answers with a gateway error and counts it.
    private func fail(_ status: HTTPResponseStatus, _ body: String) {
        switch status {
        case .badGateway: shared.stats.badGateway.wrappingIncrement(ordering: .relaxed)
        case .serviceUnavailable: shared.stats.serviceUnavailable.wrappingIncrement(ordering: .relaxed)
        case .gatewayTimeout: shared.stats.gatewayTimeout.wrappingIncrement(ordering: .relaxed)
        default: break
        }
        releaseConnection(reusable: false)
        answer(status, body)
    }

    /// Writes an answer of the gateway's own. The rest of the request, if any, is dropped as it arrives.
    fileprivate func answer(_ status: HTTPResponseStatus, _ body: String, extra: [(String, String)] = []) {
        answer(status, contentType: "text/plain; charset=utf-8", body: Array(body.utf8), extra: extra)
    }

    fileprivate func answer(
        _ status: HTTPResponseStatus, contentType: String, body: [UInt8], extra: [(String, String)] = []
    ) {
        guard let context else { return }
        cancelTimer()
        buffered.removeAll()
        bufferedBytes = 0
        awaitingBody = false
        resumeClientReads()
        // A body still on its way is not read for an answer that does not need it: the connection closes after.
        if !requestEnded && framing != .none { clientKeepAlive = false }
        var headers = HTTPHeaders()
        headers.reserveCapacity(5 + extra.count)
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "date", value: HTTPDate.now())
        headers.add(name: "server", value: "sluice")
        for (name, value) in extra { headers.add(name: name, value: value) }
        if !clientKeepAlive { headers.add(name: "connection", value: "close") }
        headSaidClose = !clientKeepAlive
        let version = clientHead?.version ?? .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if clientHead?.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        finish(status: status.code)
        phase = requestEnded ? .idle : .answered
        writeEnd(nil, context: context)
    }

    /// Logs the exchange; the state is reset before the end is written, because writing it may deliver the next
    /// pipelined request at once.
    private func finish(status: UInt) {
        if shared.accessLog, let clientHead {
            let micros = (NIODeadline.now() - startTime).nanoseconds / 1_000
            shared.logger.info(
                "request",
                metadata: [
                    "method": "\(clientHead.method.rawValue)", "uri": "\(clientHead.uri)", "status": "\(status)",
                    "route": "\(route?.name ?? "-")", "duration_us": "\(micros)",
                ])
        }
        if phase == .forwarding { phase = .idle }
        endAccounting()
        route = nil
        upstream = nil
        upstreamHead = nil
        if replayable {
            replayable = false
            buffered.removeAll(keepingCapacity: true)
            bufferedBytes = 0
        }
    }

    private func writeEnd(_ trailers: HTTPHeaders?, context: ChannelHandlerContext) {
        // A head that said `Connection: close` is closed by `RequestGuard` (after reading off what is in flight).
        if clientKeepAlive || headSaidClose {
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    private func releaseConnection(reusable: Bool) {
        guard let connection else { return }
        self.connection = nil
        connection.resumeReads()
        if let pool = connection.pool {
            pool.release(connection, reusable: reusable)
        } else {
            connection.close()
        }
    }

    // MARK: Backpressure

    private func pauseClientReads() { clientReadsPaused = true }

    private func resumeClientReads() {
        guard clientReadsPaused else { return }
        clientReadsPaused = false
        if clientReadPending, let context {
            clientReadPending = false
            context.read()
        }
    }

    // MARK: Timers

    private func arm(after timeout: TimeAmount) {
        guard let context else { return }
        let next = context.eventLoop.now + timeout
        deadline = next
        if timer == nil { schedule(at: next) }
    }

    /// Moves the idle deadline while a body streams.
    private func touchIdleTimer() {
        guard let route, deadline != nil else { return }
        // Until the request is fully sent and before the response starts, the idle timeout applies; once the
        // request is in, the response timeout runs and is not moved by our own writes.
        if responseStarted || !requestEnded { arm(after: route.idleTimeout) }
    }

    private func cancelTimer() {
        deadline = nil
        timer?.cancel()
        timer = nil
    }

    private func schedule(at when: NIODeadline) {
        guard let context else { return }
        timer = context.eventLoop.assumeIsolated().scheduleTask(deadline: when) { [self] in
            timer = nil
            guard let deadline, let context = self.context else { return }
            if deadline <= context.eventLoop.now {
                expire()
            } else {
                schedule(at: deadline)
            }
        }
    }

    private func expire() {
        deadline = nil
        guard phase == .forwarding || phase == .connecting, let context else { return }
        if responseStarted {
            shared.stats.aborted.wrappingIncrement(ordering: .relaxed)
            releaseConnection(reusable: false)
            phase = .aborted
            context.close(promise: nil)
        } else {
            if let upstream, let server = tried.last, phase == .forwarding { upstream.record(server, .gatewayFailure) }
            if phase == .forwarding { noteOutcome(status: nil) }
            if phase == .forwarding, retryAllowed(.status(504)) {
                releaseConnection(reusable: false)
                retry()
            } else {
                fail(.gatewayTimeout, "upstream timed out\n")
            }
        }
    }
}

// MARK: Traffic gates

/// Where a request is in the gates, in the order of `ARCHITECTURE.md`: fault injection, rate limits (and their
/// pacing), system protection, degrade rules, the route's breaker and adaptive limit, then the upstream's.
enum GateStep: Equatable {
    case fault
    case rateLimit(Int)
    case pace
    case protection
    case degrade
    case routeBreaker
    case routeAdaptive
    case upstream
}

extension ProxyHandler {
    /// Runs the gates from `gateStep` on; stops to wait (a delay, a Redis answer) and resumes where it stopped.
    fileprivate func runGates() {
        guard let route, let context, let clientHead else { return }
        let traffic = route.traffic
        let now = TrafficClock.now()
        while true {
            switch gateStep {
            case .fault:
                gateStep = .rateLimit(0)
                guard let fault = traffic?.fault else { continue }
                let action = fault.decide(
                    delayHeader: fault.headerControl ? clientHead.headers.first(name: "sluice-fault-delay") : nil,
                    abortHeader: fault.headerControl ? clientHead.headers.first(name: "sluice-fault-abort") : nil,
                    using: &random)
                switch action {
                case .none:
                    continue
                case .abort(let status):
                    shared.stats.faultAborts.wrappingIncrement(ordering: .relaxed)
                    return answer(HTTPResponseStatus(statusCode: status), "fault injected\n", extra: [("sluice-fault", "abort")])
                case .delay(let delay):
                    shared.stats.faultDelays.wrappingIncrement(ordering: .relaxed)
                    return resumeGates(after: delay)
                case .delayThenAbort(let delay, let status):
                    shared.stats.faultDelays.wrappingIncrement(ordering: .relaxed)
                    shared.stats.faultAborts.wrappingIncrement(ordering: .relaxed)
                    let expected = sequence
                    context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
                        guard expected == sequence, phase == .connecting else { return }
                        answer(HTTPResponseStatus(statusCode: status), "fault injected\n", extra: [("sluice-fault", "abort")])
                    }
                    return
                }

            case .rateLimit(let index):
                guard let limits = traffic?.rateLimits, index < limits.count else {
                    gateStep = .pace
                    continue
                }
                gateStep = .rateLimit(index + 1)
                let limit = limits[index]
                switch limit.store {
                case .route(let bucket):
                    guard applyRateDecision(bucket.acquire(now: now), limit) else { return }
                case .keyed(let table):
                    let key = rateLimitKey(limit.config.key, head: clientHead, context: context)
                    guard applyRateDecision(table.acquire(key: key, now: now), limit) else { return }
                case .global(let limiter, let name):
                    let key = rateLimitKey(limit.config.key, head: clientHead, context: context)
                    if let decision = limiter.acquireLocally(limit: name, key: key, now: now) {
                        guard applyGlobalDecision(decision, limit) else { return }
                        continue
                    }
                    let expected = sequence
                    limiter.acquire(
                        limit: name, key: key, count: limit.config.count, period: limit.config.period,
                        burst: limit.config.burst, now: now, on: context.eventLoop
                    ).assumeIsolated().whenComplete { [self] result in
                        guard expected == sequence, phase == .connecting else { return }
                        let decision = (try? result.get()) ?? .failOpen
                        if applyGlobalDecision(decision, limit) { runGates() }
                    }
                    return
                }

            case .pace:
                gateStep = .protection
                if paceDelay > .zero {
                    shared.stats.paced.wrappingIncrement(ordering: .relaxed)
                    let delay = paceDelay
                    paceDelay = .zero
                    return resumeGates(after: delay)
                }

            case .protection:
                gateStep = .degrade
                guard let protection = shared.state.protection else { continue }
                if protection.admit(priority: traffic?.priority ?? .normal, now: now) {
                    ticket.protection = protection
                } else {
                    shared.stats.shed.wrappingIncrement(ordering: .relaxed)
                    return answerDegraded(traffic, reason: "overload", retryAfter: .seconds(1))
                }

            case .degrade:
                gateStep = .routeBreaker
                guard let traffic else { continue }
                ticket.route = traffic
                if traffic.manualSwitch.isOn {
                    return answerDegraded(traffic, reason: "manual", retryAfter: .seconds(30))
                }
                for (index, rule) in traffic.degradeRules.enumerated() {
                    switch rule.admit(now: now) {
                    case .pass: break
                    case .probe: ticket.probes.append(index)
                    case .degraded(let retryAfter):
                        return answerDegraded(traffic, reason: "degrade rule", retryAfter: retryAfter)
                    }
                }

            case .routeBreaker:
                gateStep = .routeAdaptive
                guard let traffic, let breaker = traffic.breaker else { continue }
                let (admission, transition) = breaker.tryAcquireReporting(now: now)
                TrafficTicket.report(transition, of: "route \(traffic.name)", stats: shared.stats, logger: shared.logger)
                switch admission {
                case .permitted(let permit): ticket.routeBreaker = permit
                case .rejected(let retryAfter):
                    shared.stats.breakerRejected.wrappingIncrement(ordering: .relaxed)
                    return answerDegraded(traffic, reason: "circuit open", retryAfter: retryAfter)
                }

            case .routeAdaptive:
                gateStep = .upstream
                guard let limiter = traffic?.adaptive else { continue }
                guard let permit = limiter.tryAcquire(now: now) else {
                    shared.stats.adaptiveRejected.wrappingIncrement(ordering: .relaxed)
                    return answer(.serviceUnavailable, "over the route's concurrency limit\n")
                }
                ticket.routeAdaptive = permit

            case .upstream:
                guard let upstreamTraffic = upstream?.traffic else { return proceed() }
                ticket.upstream = upstreamTraffic
                let priority = traffic?.priority ?? .normal
                for (index, entry) in upstreamTraffic.degradeRules.enumerated() where priority <= entry.shedUpTo {
                    switch entry.rule.admit(now: now) {
                    case .pass: break
                    case .probe: ticket.upstreamProbes.append(index)
                    case .degraded(let retryAfter):
                        return answerDegraded(traffic, reason: "upstream degrade rule", retryAfter: retryAfter)
                    }
                }
                if let breaker = upstreamTraffic.breaker {
                    let (admission, transition) = breaker.tryAcquireReporting(now: now)
                    TrafficTicket.report(
                        transition, of: "upstream \(upstreamTraffic.name)", stats: shared.stats, logger: shared.logger)
                    switch admission {
                    case .permitted(let permit): ticket.upstreamBreaker = permit
                    case .rejected(let retryAfter):
                        shared.stats.breakerRejected.wrappingIncrement(ordering: .relaxed)
                        return answerDegraded(traffic, reason: "circuit open", retryAfter: retryAfter)
                    }
                }
                if let cap = upstreamTraffic.maxRequests {
                    guard cap.tryAcquire() else {
                        shared.stats.overflow.wrappingIncrement(ordering: .relaxed)
                        return answer(.serviceUnavailable, "upstream max_requests reached\n")
                    }
                    ticket.maxRequests = cap
                }
                if let limiter = upstreamTraffic.adaptive {
                    guard let permit = limiter.tryAcquire(now: now) else {
                        shared.stats.adaptiveRejected.wrappingIncrement(ordering: .relaxed)
                        return answer(.serviceUnavailable, "over the upstream's concurrency limit\n")
                    }
                    ticket.upstreamAdaptive = permit
                }
                return proceed()
            }
        }
    }

    /// Continues the gates after `delay` (fault delay or pacing), unless the request ended meanwhile.
    private func resumeGates(after delay: Duration) {
        guard let context else { return }
        let expected = sequence
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            guard expected == sequence, phase == .connecting else { return }
            runGates()
        }
    }

    /// Applies one local bucket's decision: false when the request was answered 429.
    private func applyRateDecision(_ decision: RateLimitDecision, _ limit: CompiledRateLimit) -> Bool {
        switch decision {
        case .allowed:
            return true
        case .delayed(let wait, _, _):
            paceDelay = max(paceDelay, wait)
            return true
        case .limited:
            if limit.config.shadow {
                shared.stats.rateLimitedShadow.wrappingIncrement(ordering: .relaxed)
                limit.logShadow(route: route?.name ?? "", logger: shared.logger)
                return true
            }
            shared.stats.rateLimited.wrappingIncrement(ordering: .relaxed)
            let fields = RateLimitHeaders.fields(limit: limit.policy, decision: decision)
            answer(.tooManyRequests, "rate limit exceeded\n", extra: fields.map { ($0.name, $0.value) })
            return false
        }
    }

    /// Applies a global limit's decision: false when the request was answered 429.
    private func applyGlobalDecision(_ decision: GlobalRateLimitDecision, _ limit: CompiledRateLimit) -> Bool {
        switch decision {
        case .allowed:
            return true
        case .failOpen:
            shared.stats.globalFailOpen.wrappingIncrement(ordering: .relaxed)
            return true
        case .limited(let retryAfter):
            if limit.config.shadow {
                shared.stats.rateLimitedShadow.wrappingIncrement(ordering: .relaxed)
                limit.logShadow(route: route?.name ?? "", logger: shared.logger)
                return true
            }
            shared.stats.rateLimited.wrappingIncrement(ordering: .relaxed)
            let fields = RateLimitHeaders.fields(
                limit: limit.policy, decision: .limited(retryAfter: retryAfter, reset: retryAfter))
            answer(.tooManyRequests, "rate limit exceeded\n", extra: fields.map { ($0.name, $0.value) })
            return false
        }
    }

    /// The bucket key of a keyed limit: the client's address or a header's value ("" when absent).
    private func rateLimitKey(_ key: RateLimitConfig.Key, head: HTTPRequestHead, context: ChannelHandlerContext) -> String {
        switch key {
        case .route:
            return ""
        case .header(let name):
            // Capped, so a client cannot make the limiter keep arbitrarily long keys.
            guard let value = head.headers.first(name: name) else { return "" }
            return value.utf8.count <= 256 ? value : String(decoding: value.utf8.prefix(256), as: UTF8.self)
        case .clientIP:
            if let resolvedClientIP { return resolvedClientIP }
            let peer = clientAddress(context) ?? ""
            let resolved = shared.state.trustedProxies.clientAddress(
                peer: peer, forwardedFor: head.headers["x-forwarded-for"])
            resolvedClientIP = resolved
            return resolved
        }
    }

    /// Answers with the route's fallback, or 503 with `Retry-After`; marked `Sluice-Degraded: 1` and counted.
    private func answerDegraded(_ traffic: RouteTraffic?, reason: String, retryAfter: Duration) {
        shared.stats.degraded.wrappingIncrement(ordering: .relaxed)
        var extra = [("sluice-degraded", "1")]
        if let fallback = traffic?.fallback {
            answer(HTTPResponseStatus(statusCode: fallback.status), contentType: fallback.contentType, body: fallback.body, extra: extra)
            return
        }
        let seconds = max(1, (retryAfter.wholeNanoseconds + 999_999_999) / 1_000_000_000)
        extra.append(("retry-after", String(seconds)))
        answer(.serviceUnavailable, "service degraded (\(reason))\n", extra: extra)
    }
}

@available(*, unavailable)
extension ProxyHandler: Sendable {}

extension HTTPMethod {
    /// RFC 9110 §9.2.2.
    var isIdempotent: Bool {
        switch self {
        case .GET, .HEAD, .OPTIONS, .TRACE, .PUT, .DELETE: true
        default: false
        }
    }
}
