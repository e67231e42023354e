import NIOCore
import NIOHTTP1

extension ProxyHandler {
    // MARK: Upstream side: the answer

    func upstreamRead(_ part: HTTPClientResponsePart) {
        guard phase == .forwarding, let context else { return }
        switch part {
        case .head(let head):
            if head.status.code == 101 {
                // The gateway never asks an upstream to switch protocols: an unsolicited 101 is a broken answer.
                record(.brokenAnswer, at: tried.last)
                cancelTimer()
                fail(.badGateway, "upstream switched protocols unasked\n")
                return
            }
            guard head.status.code >= 200 else { return }  // 1xx: the gateway already sent its own 100
            let code = Int(head.status.code)
            record(.answered(status: code), at: tried.last)
            if code >= 500, retryAllowed(.status(code)) {
                // A retryable answer: drop it (and its connection, which would still deliver its body), try again.
                releaseConnection(reusable: false)
                cancelTimer()
                retry(after: .status(code))
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
            bytesSent += body.readableBytes
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
        // A connection opened for this request and closed before any answer says the server is not there (a
        // kept-alive one may just have been closed by the server in the meantime: that says nothing).
        let fresh = connection?.requestCount == 1
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
        record(.closedBeforeAnswer(fresh: fresh), at: tried.last)
        // Nothing came back (often a kept-alive connection the server closed in the meantime): try again when the
        // policy allows and the request can be sent again.
        retryOr(.badGateway, "upstream closed the connection\n", condition: .reset)
    }
}
