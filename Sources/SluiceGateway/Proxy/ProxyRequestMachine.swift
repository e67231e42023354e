import SluiceConfig
import SluiceTraffic

/// Every decision of one proxied request, as a value: events in, actions out. No channels, no clock, no I/O.
///
/// `ProxyHandler` feeds it what happens (the request's head, body parts and end from the client; the gates'
/// verdict; the upstream's connection, answer head, end and close; the timer) and carries out what it returns
/// (buffer or forward a part, connect, retry after a delay, answer, cut the client off, arm or cancel the timer).
/// The machine decides when a body is read whole before connecting, when client reads pause, whether a failed try
/// is tried again and after how long, which timeout runs, whether the upstream connection can be reused and
/// whether the client connection stays open. One instance serves one request stream at a time, whatever carries
/// it (an HTTP/1.1 connection, or one HTTP/2 stream), and `ProxyRequestMachineTests` walks all of its event orders.
struct ProxyRequestMachine: Hashable {
    /// Where the request is, in the order of the phases of `ARCHITECTURE.md`.
    enum Phase: Equatable {
        /// No request in progress.
        case idle
        /// The head is in; routing and the traffic gates run. Body parts are buffered.
        case gating
        /// A small body is read whole before an upstream connection is taken (`request_buffer_size`).
        case awaitingBody
        /// Waiting for an upstream connection, or for the backoff before the next try. Body parts are buffered.
        case connecting
        /// The request goes upstream as it arrives; no answer yet.
        case forwarding
        /// The upstream's answer streams back to the client.
        case responding
        /// The gateway answered itself; the rest of the request is dropped as it arrives.
        case answered
        /// The client is being cut off (or the server layer rejected the request and closes).
        case aborted
    }

    /// What is known of the request once it is routed.
    struct Request: Hashable {
        /// The request has a body (a length or `chunked`).
        var hasBody = false
        /// HTTP/1.1 with `Expect: 100-continue`: the gateway asks for the body itself, like nginx.
        var expectsContinue = false
        /// Bodies up to this many bytes are read whole before connecting, and kept for retries.
        var bufferSize = 0
        /// RFC 9110 §9.2.2: the method may be sent twice.
        var idempotent = true
        var retryPolicy = RetryPolicy()
        var retryNonIdempotent = false
        /// How many servers the upstream has: a request never tries more.
        var serverCount = 1
        /// How long one try waits for its answer once the request is sent (nanoseconds).
        var responseTimeout: Int64 = 60_000_000_000
        /// How long a body may pause, either way (nanoseconds).
        var idleTimeout: Int64 = 60_000_000_000
        /// The client asked to switch protocols (`Upgrade: websocket`) and the route tunnels: a 101 is the answer.
        var upgrade = false
    }

    /// Request bytes kept while connecting before client reads pause.
    static let bufferLimit = 64 * 1024

    private(set) var phase = Phase.idle
    private(set) var request = Request()
    /// The client sent the whole request.
    private(set) var requestEnded = false
    /// The client connection stays open after this request.
    private(set) var keepAlive = true
    /// The response head told the client `Connection: close` (the server layer then closes after it).
    private(set) var headSaidClose = false
    /// Request body bytes held by the handler.
    private(set) var bufferedBytes = 0
    /// The whole request is held, so a retry can send it again.
    private(set) var replayable = false
    /// Tries started (servers picked), and those that never reached their server: they do not use up `retries`.
    private(set) var tries = 0
    private(set) var unreachedTries = 0
    /// The upstream said its connection stays open.
    private var upstreamKeepAlive = true
    /// A deadline is set (the handler's timer is lazy: it asks before moving it).
    private(set) var timerArmed = false

    // MARK: Client events

    /// A request head arrived: a new request starts (routing and gates come next).
    mutating func receivedHead(keepAlive: Bool, hasBody: Bool) {
        phase = .gating
        request = Request(hasBody: hasBody)
        self.keepAlive = keepAlive
        requestEnded = false
        headSaidClose = false
        bufferedBytes = 0
        replayable = false
        tries = 0
        unreachedTries = 0
        upstreamKeepAlive = true
        timerArmed = false
    }

    /// Routing found the request's route and upstream.
    mutating func routed(_ request: Request) {
        precondition(phase == .gating, "routed outside gating")
        var request = request
        request.hasBody = self.request.hasBody
        self.request = request
    }

    enum Proceed: Equatable {
        /// Take an upstream connection now.
        case connect(sendContinue: Bool)
        /// Read the (small) body whole first: resume client reads; a later body event says when to connect.
        case readBody(sendContinue: Bool)
        /// The request is no longer waiting for the gates.
        case none
    }

    /// The traffic gates let the request through.
    mutating func gatesPassed() -> Proceed {
        guard phase == .gating else { return .none }
        let sendContinue = request.expectsContinue && !requestEnded
        if request.hasBody && !requestEnded && bufferedBytes <= request.bufferSize {
            phase = .awaitingBody
            return .readBody(sendContinue: sendContinue)
        }
        phase = .connecting
        return .connect(sendContinue: sendContinue)
    }

    enum BodyAction: Equatable {
        /// Keep the part; `connect` once the small body is whole; `pauseReads` when enough is held.
        case buffer(connect: Bool, pauseReads: Bool)
        /// Send the part upstream (client reads pause while the upstream cannot take more); move the idle
        /// deadline to `idle` nanoseconds from now when set.
        case forward(idle: Int64?)
        /// Nobody wants it (the gateway answered).
        case drop
    }

    /// A body part of `bytes` bytes arrived from the client.
    mutating func receivedBody(bytes: Int) -> BodyAction {
        // Bytes of a request whose head framed no body are nobody's: forwarding them would put them on the
        // upstream connection unframed, as a request of their own.
        guard request.hasBody else { return .drop }
        switch phase {
        case .gating, .connecting:
            bufferedBytes += bytes
            return .buffer(connect: false, pauseReads: bufferedBytes > Self.bufferLimit)
        case .awaitingBody:
            bufferedBytes += bytes
            guard bufferedBytes > request.bufferSize else { return .buffer(connect: false, pauseReads: false) }
            phase = .connecting
            return .buffer(connect: true, pauseReads: false)
        case .forwarding:
            return .forward(idle: progressed())
        case .responding:
            // Once the answer streams, only the upstream's progress moves the deadline: a stalled upstream is
            // caught even while the client still uploads.
            return .forward(idle: nil)
        case .idle, .answered, .aborted:
            return .drop
        }
    }

    enum EndAction: Equatable {
        /// Keep the end with the buffered parts; `connect` when the small body is now whole.
        case buffer(connect: Bool)
        /// Send the end upstream; the answer's deadline starts now when `responseTimeout` is set.
        case forward(responseTimeout: Int64?)
        case none
    }

    /// The client's request ended.
    mutating func receivedEnd() -> EndAction {
        requestEnded = true
        switch phase {
        case .gating, .connecting:
            return .buffer(connect: false)
        case .awaitingBody:
            phase = .connecting
            return .buffer(connect: true)
        case .forwarding:
            timerArmed = true
            return .forward(responseTimeout: request.responseTimeout)
        case .responding:
            return .forward(responseTimeout: nil)
        case .answered:
            phase = .idle
            return .none
        case .idle, .aborted:
            return .none
        }
    }

    /// The client gets no second request on this connection (a client that sent a bad path, like nginx).
    mutating func closeAfterAnswer() { keepAlive = false }

    /// The client connection closed. True when a request was in flight (it is counted as aborted).
    mutating func clientClosed() -> Bool {
        let inFlight: Bool
        switch phase {
        case .gating, .awaitingBody, .connecting, .forwarding, .responding: inFlight = true
        case .idle, .answered, .aborted: inFlight = false
        }
        finish()
        return inFlight
    }

    /// The server layer rejected the request (413, 408) and closes the connection.
    mutating func rejectedByServer() {
        phase = .aborted
        timerArmed = false
    }

    // MARK: Upstream events

    /// A server was picked for the next try.
    mutating func tryStarted() { tries += 1 }

    struct Start: Equatable {
        /// Keep the buffered parts after sending them: the whole request is here and small, a retry can resend it.
        var keepBuffered: Bool
        /// The deadline to set (nanoseconds): the answer's when the request is all sent, the idle one otherwise.
        var timeout: Int64
        /// The request was fully sent: its latency is timed from now.
        var requestSent: Bool
    }

    /// An upstream connection is ready: send the head and what is buffered.
    mutating func connected() -> Start? {
        guard phase == .connecting else { return nil }
        phase = .forwarding
        replayable = requestEnded && bufferedBytes <= request.bufferSize
        if !replayable { bufferedBytes = 0 }
        timerArmed = true
        return Start(
            keepBuffered: replayable, timeout: requestEnded ? request.responseTimeout : request.idleTimeout,
            requestSent: requestEnded)
    }

    /// Why a try failed before any answer.
    enum TryFailure: Equatable {
        /// The connect was refused or timed out: nothing reached the server.
        case unreachable
        /// The pool could not give a connection (queue full or timed out, pool closed, `max_pending`).
        case busy
        /// No server left to try.
        case noServer
        /// The upstream's `max_pending` is reached.
        case pendingLimit
    }

    enum FailureAction: Equatable {
        /// Try another server after `delay` (zero: at once). `resend` when work may be sent again to an upstream
        /// (counted as an active retry against the budget).
        case retry(delay: Duration, resend: Bool)
        /// Answer the client with this gateway error.
        case fail(status: Int, message: String)
        /// Part of the answer is out: cut the client off.
        case abortClient
        case none
    }

    /// Getting a connection for the current try failed.
    mutating func connectFailed(
        _ failure: TryFailure, budget: () -> Bool, random: inout SplitMix64Generator
    ) -> FailureAction {
        guard phase == .connecting else { return .none }
        switch failure {
        case .unreachable:
            unreachedTries += 1
            return retryOr(502, "upstream connect failed\n", .connectFailure, budget: budget, random: &random)
        case .busy:
            return .fail(status: 503, message: "upstream busy\n")
        case .noServer:
            return .fail(status: 502, message: "no upstream server left to try\n")
        case .pendingLimit:
            return .fail(status: 503, message: "upstream max_pending reached\n")
        }
    }

    enum HeadAction: Equatable {
        /// An interim (1xx) answer: the gateway sent its own 100 already.
        case ignore
        /// An answer no request asks for (101): a gateway failure, 502.
        case broken
        /// A retryable answer: drop it and its connection, try again.
        case retry(delay: Duration, resend: Bool)
        /// Send the head to the client, with `Connection: close` when `closeClient`; move the deadline to the idle
        /// one.
        case forward(closeClient: Bool, idle: Int64)
        /// The upstream switched protocols as asked: pass the 101 on and splice the two connections. The request
        /// is over; the upstream connection leaves its pool with the tunnel.
        case tunnel
    }

    /// The upstream's answer head, `status`; `keepAlive` when its connection stays open.
    mutating func upstreamHead(
        status: Int, keepAlive upstreamKeepAlive: Bool, budget: () -> Bool, random: inout SplitMix64Generator
    ) -> HeadAction {
        guard phase == .forwarding else { return .ignore }
        if status == 101 {
            timerArmed = false
            guard request.upgrade else { return .broken }
            finish()
            return .tunnel
        }
        guard status >= 200 else { return .ignore }
        if status >= 500, retryAllowed(.status(status), budget: budget) {
            let (delay, resend) = startRetry(after: .status(status), random: &random)
            return .retry(delay: delay, resend: resend)
        }
        phase = .responding
        self.upstreamKeepAlive = upstreamKeepAlive
        headSaidClose = !keepAlive
        timerArmed = true
        return .forward(closeClient: !keepAlive, idle: request.idleTimeout)
    }

    struct ResponseEnd: Equatable {
        /// The upstream connection can go back to its pool.
        var reuseUpstream: Bool
        /// Close the client connection once the end is written (it was not announced in the head).
        var closeAfterWrite: Bool
    }

    /// The upstream's answer ended. The request is over.
    mutating func upstreamEnded() -> ResponseEnd? {
        guard phase == .responding else { return nil }
        // An answer that ends before its request was fully sent leaves both connections out of step.
        // An upgrade request answered without a switch may have left the server's parser stopped: not reused.
        let reuse = upstreamKeepAlive && requestEnded && !request.upgrade
        if !requestEnded { keepAlive = false }
        finish()
        return ResponseEnd(reuseUpstream: reuse, closeAfterWrite: !keepAlive && !headSaidClose)
    }

    /// The upstream connection closed before the exchange gave it back.
    mutating func upstreamClosed(budget: () -> Bool, random: inout SplitMix64Generator) -> FailureAction {
        switch phase {
        case .responding:
            return abort()
        case .forwarding:
            timerArmed = false
            // Nothing came back (often a kept-alive connection the server closed meanwhile): try again when the
            // policy allows and the request can be sent again.
            return retryOr(502, "upstream closed the connection\n", .reset, budget: budget, random: &random)
        default:
            return .none
        }
    }

    /// The deadline passed.
    mutating func timerFired(budget: () -> Bool, random: inout SplitMix64Generator) -> FailureAction {
        guard timerArmed else { return .none }
        timerArmed = false
        switch phase {
        case .responding:
            return abort()
        case .forwarding:
            return retryOr(504, "upstream timed out\n", .status(504), budget: budget, random: &random)
        case .connecting:
            return .fail(status: 504, message: "upstream timed out\n")
        default:
            return .none
        }
    }

    /// Something made progress while the request or its answer streams (a part either way, a side drained): the
    /// idle deadline to set, in nanoseconds, or nil to leave the deadline alone. Once the request is all sent and
    /// before the answer starts, the answer's deadline runs and is not moved by our own writes.
    mutating func progressed() -> Int64? {
        guard timerArmed else { return nil }
        switch phase {
        case .responding: return request.idleTimeout
        case .forwarding: return requestEnded ? nil : request.idleTimeout
        default: return nil
        }
    }

    // MARK: The gateway's own answers

    struct Answer: Equatable {
        /// Say `Connection: close` in the answer's head.
        var close: Bool
    }

    /// The gateway answers the request itself (an error, a limit, a fallback). A body still on its way is not read
    /// for an answer that does not need it: the connection closes after it.
    mutating func answer() -> Answer {
        if !requestEnded && request.hasBody { keepAlive = false }
        headSaidClose = !keepAlive
        let ended = requestEnded
        finish()
        if !ended { phase = .answered }
        return Answer(close: !keepAlive)
    }

    // MARK: Retries

    /// Whether a try that failed with `condition` may be tried again on another server: the route retries on it,
    /// there is another server, the request can be sent again (RFC 9110 §9.2.2: idempotent methods, or
    /// `retry_non_idempotent`; and no streamed body that is gone), tries are left (a try that never reached a
    /// server does not count), and the retry budget has room.
    ///
    /// Local-origin failures (the connect failed, or the connection closed before any answer) need no room in the
    /// budget: the budget is there so that retries cannot pile work onto a struggling upstream, and a server that
    /// cannot be reached did no work. Such a retry is what keeps a dead server from failing requests.
    func retryAllowed(_ condition: RetryCondition, budget: () -> Bool) -> Bool {
        let policy = request.retryPolicy
        guard policy.retries(on: condition), tries < request.serverCount else { return false }
        let nothingSent = condition == .connectFailure
        guard nothingSent || tries - unreachedTries <= policy.retries else { return false }
        guard request.idempotent || (request.retryNonIdempotent && nothingSent) else { return false }
        // The body is kept only until the first try starts; once streamed upstream it cannot be sent again.
        guard nothingSent || !request.hasBody || replayable else { return false }
        return condition.isLocalOrigin || budget()
    }

    private mutating func retryOr(
        _ status: Int, _ message: String, _ condition: RetryCondition, budget: () -> Bool,
        random: inout SplitMix64Generator
    ) -> FailureAction {
        guard retryAllowed(condition, budget: budget) else { return .fail(status: status, message: message) }
        let (delay, resend) = startRetry(after: condition, random: &random)
        return .retry(delay: delay, resend: resend)
    }

    /// The next try starts at once after a local-origin failure, or when it goes to another server for the first
    /// time; later ones after a jittered exponential backoff.
    private mutating func startRetry(
        after condition: RetryCondition, random: inout SplitMix64Generator
    ) -> (delay: Duration, resend: Bool) {
        phase = .connecting
        timerArmed = false
        let base = request.retryPolicy.backoff
        let resent = tries - unreachedTries
        let delay =
            condition.isLocalOrigin || resent <= 1
            ? .zero : Backoff.delay(attempt: resent - 1, base: base, max: base * 10, using: &random)
        return (delay, !condition.isLocalOrigin)
    }

    private mutating func abort() -> FailureAction {
        phase = .aborted
        timerArmed = false
        return .abortClient
    }

    /// The request is over (answered by the upstream or the gateway): nothing is held for it any more.
    private mutating func finish() {
        phase = .idle
        timerArmed = false
        bufferedBytes = 0
        replayable = false
    }
}

extension RetryCondition {
    /// Nothing came back from the server: the connect failed, or the connection closed before any answer.
    var isLocalOrigin: Bool { self == .connectFailure || self == .reset }
}
