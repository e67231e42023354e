import NIOCore
import NIOHTTP1

extension ProxyHandler {
    // MARK: Phase: respond (the upstream's answer)

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard let context else { return }
        switch part {
        case .head(let head):
            let code = Int(head.status.code)
            let action = machine.upstreamHead(
                status: code, keepAlive: head.isKeepAlive, budget: { upstream?.allowsRetry() ?? false },
                random: &random)
            switch action {
            case .ignore:
                return  // 1xx: the gateway already sent its own 100
            case .broken:
                // The gateway never asks an upstream to switch protocols: an unsolicited 101 is a broken answer.
                record(.brokenAnswer, at: tried.last)
                fail(.badGateway, "upstream switched protocols unasked\n")
            case .retry(let delay, let resend):
                // A retryable answer: drop it (and its connection, which would still deliver its body), try again.
                record(.answered(status: code), at: tried.last)
                retry(after: delay, resend: resend)
            case .tunnel:
                record(.answered(status: code), at: tried.last)
                startTunnel(head, context: context)
            case .forward(_, _) where extendedConnect && code < 300:
                // RFC 8441: a 2xx opens the tunnel for the client; an upstream that did not switch cannot serve it.
                record(.brokenAnswer, at: tried.last)
                fail(.badGateway, "upstream did not switch to WebSocket\n")
            case .forward(let closeClient, let idle):
                record(.answered(status: code), at: tried.last)
                responseStatus = head.status.code
                let filters = route?.filters
                var facts = ProxyHeaders.ResponseFacts()
                var response = ProxyHeaders.clientResponse(
                    head, version: clientHead?.version ?? .http1_1, extraCapacity: filters?.responseCapacity ?? 0,
                    facts: &facts)
                if closeClient { response.headers.replaceOrAdd(name: "connection", value: "close") }
                if compressorContext != nil, let compression = route?.compression, let method = clientHead?.method {
                    ResponseCompression.mark(&response, method: method, config: compression)
                    facts.vary = true  // it may have added one
                }
                if grpcCall, response.headers.contains(name: "grpc-status") {
                    // A gRPC "trailers-only" answer (one HEADERS frame upstream): its status goes to the trailers,
                    // where the client looks once the answer's head is not its end.
                    grpcTrailers = GRPCAnswer.moveStatus(from: &response.headers)
                    // Its `content-length: 0` would frame the HTTP/1.1 answer without room for the trailers.
                    response.headers.remove(name: "content-length")
                }
                if let filters { filterResponse(filters, &response.headers, facts: facts) }
                if secure, let hsts = route?.hsts, !response.headers.contains(name: "strict-transport-security") {
                    response.headers.add(name: "strict-transport-security", value: hsts)
                }
                context.write(wrapOutboundOut(.head(response)), promise: nil)
                arm(after: .nanoseconds(idle))
            }
        case .body(let body):
            guard machine.phase == .responding else { return }
            bytesSent += body.readableBytes
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            if !context.channel.isWritable {
                // Pause before flushing: the flush may make the channel writable again, and report it, at once.
                connection?.pauseReads()
                context.flush()
                if context.channel.isWritable { connection?.resumeReads() }
            }
            if let idle = machine.progressed() { arm(after: .nanoseconds(idle)) }
        case .end(let trailers):
            guard let end = machine.upstreamEnded() else { return }
            shared.stats.upstreamResponses.wrappingIncrement(ordering: .relaxed)
            let took = NIODeadline.now() - tryStart
            let duration = Duration.nanoseconds(took.nanoseconds)
            upstreamTime = (upstreamTime ?? .zero) + duration
            if let metrics = upstream?.metrics { metrics.recordDuration(duration, zone: tryZone) }
            releaseConnection(reusable: end.reuseUpstream)
            cancelTimer()
            var trailers = trailers
            if let status = grpcTrailers {
                var merged = trailers ?? HTTPHeaders()
                merged.add(contentsOf: status)
                trailers = merged
            }
            grpcTrailers = nil
            finish(status: responseStatus)
            writeEnd(trailers, closeAfterWrite: end.closeAfterWrite, context: context)
        }
    }

    func upstreamReadComplete() {
        context?.flush()
    }

    func upstreamWritabilityChanged(writable: Bool) {
        guard writable, machine.phase == .forwarding || machine.phase == .responding else { return }
        resumeClientReads()
        if let idle = machine.progressed() { arm(after: .nanoseconds(idle)) }  // the upstream took what we sent
    }

    func upstreamClosed(error: (any Error)?) {
        // A connection opened for this request and closed before any answer says the server is not there (a
        // kept-alive one may just have been closed by the server in the meantime: that says nothing).
        let fresh = connection?.requestCount == 1
        // Give the connection back first, whatever happens next: the pool counts it until then.
        releaseConnection(reusable: false)
        cancelTimer()
        let beforeAnswer = machine.phase == .forwarding
        let action = machine.upstreamClosed(budget: { upstream?.allowsRetry() ?? false }, random: &random)
        if beforeAnswer { record(.closedBeforeAnswer(fresh: fresh), at: tried.last) }
        carryOut(action)
    }
}
