public import NIOCore
public import NIOHTTP1
public import SluiceServer
public import SluiceWeb

/// What an outbound call takes from the request it is made for: its deadline, its request id and its trace.
///
/// - The deadline is the incoming request's (`c.deadline`, set by the `Timeout` middleware) or the call's own
///   timeout, whichever comes first: a call never outlives the request it serves.
/// - The request id goes on under the same header, so one id follows a request through every service.
/// - `traceparent` (W3C Trace Context) keeps the incoming trace id and flags and names this call as the parent
///   with a new span id; without an incoming trace, the request id starts one when it is 32 hex digits (ids made by
///   `RequestID` are), else a new trace id is made. `tracestate` and `baggage` pass on untouched.
public struct CallPropagation: Sendable, Equatable {
    public var deadline: NIODeadline?
    public var requestID: String?
    public var traceparent: String?
    public var tracestate: String?
    public var baggage: String?

    public init(
        deadline: NIODeadline? = nil, requestID: String? = nil, traceparent: String? = nil, tracestate: String? = nil,
        baggage: String? = nil
    ) {
        self.deadline = deadline
        self.requestID = requestID
        self.traceparent = traceparent
        self.tracestate = tracestate
        self.baggage = baggage
    }

    /// Read from `c`; call on `c`'s event loop (any handler does).
    public init(_ c: Context, requestIDHeader: String = "x-request-id") {
        let requestID = c.requestID ?? c.header(requestIDHeader).flatMap { RequestIDs.isAcceptable($0) ? $0 : nil }
        self.init(
            deadline: c.deadline, requestID: requestID, traceparent: c.header("traceparent"),
            tracestate: c.header("tracestate"), baggage: c.header("baggage"))
    }

    /// The deadline of a call with `timeout`, started at `now`.
    public func deadline(timeout: TimeAmount, now: NIODeadline) -> NIODeadline {
        let own = now + timeout
        guard let deadline else { return own }
        return min(deadline, own)
    }

    /// Sets the propagated fields on an outbound request's headers, replacing any the caller set. `spanID` names
    /// this call in the trace.
    public func apply(
        to headers: inout HTTPHeaders, requestIDHeader: String = "x-request-id", spanID: UInt64 = TraceContext.makeSpanID()
    ) {
        if let requestID { headers.replaceOrAdd(name: requestIDHeader, value: requestID) }
        let parent = TraceContext.upstreamHeader(
            incoming: traceparent, requestID: requestID ?? "", spanID: spanID, newTraceID: RequestIDs.make)
        headers.replaceOrAdd(name: "traceparent", value: parent)
        if let tracestate, TraceContext.parse(traceparent ?? "") != nil {
            headers.replaceOrAdd(name: "tracestate", value: tracestate)
        } else {
            headers.remove(name: "tracestate")
        }
        if let baggage { headers.replaceOrAdd(name: "baggage", value: baggage) }
    }
}
