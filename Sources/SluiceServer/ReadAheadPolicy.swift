/// When to keep reading a connection while its request is being answered.
///
/// `RequestGuard` serves an HTTP/1 connection's requests one at a time (as NIO's `HTTPServerPipelineHandler`
/// does) and withholds `read()` from the time a request has ended until its response has: with nothing to read,
/// the channel stops listening for input, and starts again once the answer is out, which costs two `epoll_ctl`
/// calls on every request of a keep-alive connection. Reading ahead in that state is harmless: what can arrive is
/// the next request, which the guard holds until its turn. So while exactly one request is waiting for its answer
/// and nothing has arrived after it, a read stays armed; as soon as a pipelined request arrives behind it, or the
/// connection is to close, reads are withheld as before (so a client that pipelines without reading answers
/// buffers at most one read's worth).
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
