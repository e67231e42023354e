import Logging
import NIOCore
import NIOHTTP1
import SluiceConfig
import SluiceRedis
import SluiceRouter
import SluiceServer
import SluiceTraffic

extension ProxyHandler {
    // MARK: Outcomes

    /// Carries out what the request machine decided after a failed try.
    func carryOut(_ action: ProxyRequestMachine.FailureAction) {
        switch action {
        case .retry(let delay, let resend):
            retry(after: delay, resend: resend)
        case .fail(let status, let message):
            fail(HTTPResponseStatus(statusCode: status), message)
        case .abortClient:
            // Part of the answer is out: the only honest thing left is to cut the client off.
            shared.stats.aborted.wrappingIncrement(ordering: .relaxed)
            releaseConnection(reusable: false)
            cancelTimer()
            context?.close(promise: nil)
        case .none:
            break
        }
    }

    /// Starts the next try after `delay`; `resend` when it sends work to an upstream again (an active retry that
    /// counts against the budget).
    func retry(after delay: Duration, resend: Bool) {
        releaseConnection(reusable: false)
        cancelTimer()
        shared.stats.retries.wrappingIncrement(ordering: .relaxed)
        upstream?.metrics?.retries.increment()
        if resend && !countedRetry, let upstream {
            countedRetry = true
            upstream.activeRetries.wrappingIncrement(ordering: .relaxed)
        }
        guard delay > .zero, let context else { return connect() }
        let expected = sequence
        context.eventLoop.assumeIsolated().scheduleTask(in: TimeAmount(delay)) { [self] in
            guard expected == sequence, machine.phase == .connecting else { return }
            connect()
        }
    }

    /// How long one try waits for its answer once the request is sent.
    func tryTimeout(_ route: ProxyRoute) -> TimeAmount {
        route.retryPolicy.perTryTimeout.map { TimeAmount($0) } ?? route.timeout
    }

    /// How one try at one server ended.
    enum TryResult {
        /// The connect was refused or timed out: nothing reached the server.
        case unreachable(reason: String)
        /// The connection closed or reset before any answer; `fresh` when it was opened for this try.
        case closedBeforeAnswer(fresh: Bool)
        /// No answer in time.
        case timedOut
        /// An answer no request asked for (an unsolicited 101).
        case brokenAnswer
        /// An answer with this status.
        case answered(status: Int)
    }

    /// The one place a try's result is recorded: the server's reachability (local-origin failures take it out of
    /// rotation), the upstream's outlier detector, and the request's traffic ticket (breakers, adaptive limits,
    /// degrade rules).
    func record(_ result: TryResult, at server: UpstreamServer?) {
        let status: Int?
        switch result {
        case .unreachable(let reason):
            status = nil
            shared.stats.connectFailures.wrappingIncrement(ordering: .relaxed)
            if let server {
                server.recordLocalFailure(reason)
                shared.events.log(
                    .warning, "upstream connect failed", subject: "server", value: server.target.description,
                    metadata: ["upstream": "\(upstream?.name ?? "-")", "error": "\(reason)"])
            }
        case .closedBeforeAnswer(let fresh):
            status = nil
            if fresh { server?.recordLocalFailure("closed before any answer") }
        case .timedOut, .brokenAnswer:
            status = nil
        case .answered(let code):
            status = code
            server?.recordAnswer()
        }
        server?.load.record(status: status)
        if let upstream, let server {
            upstream.record(server, status.map { $0 >= 500 ? .serverError(status: $0) : .success } ?? .gatewayFailure)
        }
        noteOutcome(status: status)
    }

    /// Remembers what the upstream did (an answer's status, or nil for none) for the request's traffic ticket; a
    /// request that holds nothing from the gates skips the clock.
    private func noteOutcome(status: Int?) {
        guard !gates.ticket.isEmpty else { return }
        let latency = TrafficClock.now() - upstreamStart
        outcome = status.map { .answered(status: $0, latency: latency) } ?? .failed(latency: latency)
    }

    /// Takes this request out of its upstream's in-flight counts, and settles its traffic ticket (once).
    func endAccounting() {
        if !gates.ticket.isEmpty {
            gates.ticket.settle(outcome ?? .abandoned, now: TrafficClock.now(), stats: shared.stats, logger: shared.logger)
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
    func fail(_ status: HTTPResponseStatus, _ body: String) {
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
    func answer(_ status: HTTPResponseStatus, _ body: String, extra: [(String, String)] = []) {
        answer(status, contentType: "text/plain; charset=utf-8", body: Array(body.utf8), extra: extra)
    }

    func answer(
        _ status: HTTPResponseStatus, contentType: String, body: [UInt8], extra: [(String, String)] = [],
        filtered: Bool = true
    ) {
        guard let context else { return }
        cancelTimer()
        buffered.removeAll()
        resumeClientReads()
        let plan = machine.answer()
        if grpcCall {
            answerGRPC(status, message: String(decoding: body, as: UTF8.self), extra: extra, close: plan.close)
            return
        }
        var headers = HTTPHeaders()
        headers.reserveCapacity(5 + extra.count)
        headers.add(name: "content-type", value: contentType)
        headers.add(name: "content-length", value: String(body.count))
        headers.add(name: "date", value: HTTPDate.now())
        headers.add(name: "server", value: "sluice")
        for (name, value) in extra { headers.add(name: name, value: value) }
        if plan.close { headers.add(name: "connection", value: "close") }
        if filtered, let filters = route?.filters {
            responseStatus = status.code
            filterResponse(filters, &headers)
        }
        let version = clientHead?.version ?? .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: status, headers: headers))), promise: nil)
        if clientHead?.method != .HEAD {
            bytesSent = body.count
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(bytes: body)))), promise: nil)
        }
        finish(status: status.code)
        writeEnd(nil, closeAfterWrite: false, context: context)
    }

    /// A gRPC call the gateway fails: 200, then `grpc-status` and `grpc-message` as trailers (`GRPCAnswer`).
    private func answerGRPC(_ status: HTTPResponseStatus, message: String, extra: [(String, String)], close: Bool) {
        guard let context else { return }
        var headers = HTTPHeaders([("content-type", "application/grpc"), ("date", HTTPDate.now()), ("server", "sluice")])
        for (name, value) in extra { headers.add(name: name, value: value) }
        if close { headers.add(name: "connection", value: "close") }
        let version = clientHead?.version ?? .http1_1
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: version, status: .ok, headers: headers))), promise: nil)
        let trailers = HTTPHeaders([
            ("grpc-status", String(GRPCAnswer.status(forHTTP: status.code))),
            ("grpc-message", GRPCAnswer.message(message.isEmpty ? status.reasonPhrase : message)),
        ])
        finish(status: status.code)
        writeEnd(trailers, closeAfterWrite: false, context: context)
    }

    /// Logs the exchange; the state is reset before the end is written, because writing it may deliver the next
    /// pipelined request at once.
    func finish(status: UInt) {
        let took = NIODeadline.now() - startTime
        if let clientHead {
            let metrics = route?.metrics ?? shared.metrics?.unrouted
            metrics?.record(method: clientHead.method, status: status, duration: .nanoseconds(took.nanoseconds))
            if route?.traffic?.rateLimits.isEmpty == false { metrics?.record(gates.marks.rateLimitOutcome) }
        }
        if let accessLog = shared.accessLog, accessLog.isOn, let clientHead, let context {
            let headers = clientHead.headers
            var entry = AccessLogEntry(
                client: clientAddress(context), method: clientHead.method.rawValue, uri: clientHead.uri,
                version: clientHead.version, status: status, referer: headers.first(name: "referer"),
                userAgent: headers.first(name: "user-agent"), seconds: Double(took.nanoseconds) / 1e9)
            entry.bytesIn = bytesReceived
            entry.bytesOut = bytesSent
            entry.upstreamSeconds = upstreamTime.map { Double($0.wholeNanoseconds) / 1e9 }
            entry.route = route?.name
            entry.upstream = tried.last?.target.description
            entry.zone = tried.last?.zone
            entry.requestID = requestID
            entry.identity = identity
            entry.traceID = traceparent.map(TraceContext.traceID(of:))
            entry.gates = gates.marks
            entry.retries = max(0, tried.count - 1)
            accessLog.record(on: context.eventLoop, entry)
        }
        endAccounting()
        route = nil
        params = nil
        routedURI = nil
        state = nil
        upstream = nil
        upstreamHead = nil
        clientHead = nil  // an idle connection keeps no request's headers
        buffered.removeAll(keepingCapacity: true)
    }

    /// Writes the answer's end; `closeAfterWrite` closes the connection once it is out (a head that said
    /// `Connection: close` is closed by `RequestGuard`, after reading off what is in flight).
    func writeEnd(_ trailers: HTTPHeaders?, closeAfterWrite: Bool, context: ChannelHandlerContext) {
        if !closeAfterWrite {
            context.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
        } else {
            context.writeAndFlush(wrapOutboundOut(.end(trailers))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
        }
    }

    func releaseConnection(reusable: Bool) {
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

    func pauseClientReads() { clientReadsPaused = true }

    func resumeClientReads() {
        guard clientReadsPaused else { return }
        clientReadsPaused = false
        if clientReadPending, let context {
            clientReadPending = false
            context.read()
        }
    }

    // MARK: Timers

    /// Sets the deadline. Lazy: a task already pending that fires no later is kept (it looks at the deadline when it
    /// fires and moves on to it), so steady keep-alive traffic schedules a task about once per timeout, not per
    /// request.
    func arm(after timeout: TimeAmount) {
        guard let context else { return }
        let next = context.eventLoop.now + timeout
        deadline = next
        if let timer, timerAt > next {
            timer.cancel()
            self.timer = nil
        }
        if timer == nil { schedule(at: next) }
    }

    /// No deadline for now; a pending task is left to fire and find nothing to do (cheaper than cancelling it and
    /// scheduling another for the next request).
    func cancelTimer() {
        deadline = nil
    }

    /// Cancels the pending task too (the connection is gone: the task must not keep the handler alive).
    func stopTimer() {
        deadline = nil
        timer?.cancel()
        timer = nil
    }

    func schedule(at when: NIODeadline) {
        guard let context else { return }
        timerAt = when
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

    func expire() {
        deadline = nil
        let beforeAnswer = machine.phase == .forwarding
        let action = machine.timerFired(budget: { upstream?.allowsRetry() ?? false }, random: &random)
        if beforeAnswer && action != .none { record(.timedOut, at: tried.last) }
        carryOut(action)
    }
}
