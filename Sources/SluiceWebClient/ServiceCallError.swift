public import NIOHTTP1
public import SluiceWeb

/// Why an outbound call gave no usable answer. Thrown out of a handler it is answered as a gateway would: 503 while
/// the target's breaker is open, 504 past the deadline, 502 otherwise; the message names the target, not internals.
public enum ServiceCallError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    /// The target's circuit breaker is open; no call was made.
    case circuitOpen(target: String, retryAfter: Duration)
    /// The deadline (the request's or the call's own) passed before the answer came.
    case deadlineExceeded(target: String)
    /// No answer: refused, reset, unresolvable, or a broken response.
    case unreachable(target: String, reason: String)
    /// The answer's body was larger than the client's `maxResponseSize`.
    case responseTooLarge(target: String, limit: Int)
    /// `requireSuccess()` on an answer that was not 2xx.
    case failedStatus(target: String, status: HTTPResponseStatus)

    public var status: HTTPResponseStatus {
        switch self {
        case .circuitOpen: .serviceUnavailable
        case .deadlineExceeded: .gatewayTimeout
        case .unreachable, .responseTooLarge, .failedStatus: .badGateway
        }
    }

    public var message: String {
        switch self {
        case .circuitOpen(let target, _): "\(target) is failing; not called (circuit open)"
        case .deadlineExceeded(let target): "\(target) did not answer in time"
        case .unreachable(let target, _): "\(target) could not be reached"
        case .responseTooLarge(let target, _): "\(target) sent an answer too large to take"
        case .failedStatus(let target, let status): "\(target) answered \(status.code)"
        }
    }

    public var description: String {
        switch self {
        case .circuitOpen(let target, let retryAfter): "circuit open for \(target), retry after \(retryAfter)"
        case .deadlineExceeded(let target): "deadline exceeded calling \(target)"
        case .unreachable(let target, let reason): "\(target) unreachable: \(reason)"
        case .responseTooLarge(let target, let limit): "answer from \(target) over \(limit) bytes"
        case .failedStatus(let target, let status): "\(target) answered \(status.code)"
        }
    }
}
