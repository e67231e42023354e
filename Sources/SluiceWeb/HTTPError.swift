public import NIOHTTP1

/// An error that carries its own answer: thrown from a handler (or `bind`, or a typed parameter), it is answered
/// with `status` and `{"error": message}` instead of a 500, and is not logged as a failure.
public protocol HTTPResponseError: Error {
    var status: HTTPResponseStatus { get }
    /// What the client is told. Say what was wrong with the request; never internals.
    var message: String { get }
}

/// A ready-made `HTTPResponseError`: `throw HTTPError(.notFound, "todo 7 does not exist")`.
public struct HTTPError: HTTPResponseError, Sendable, Equatable, CustomStringConvertible {
    public let status: HTTPResponseStatus
    public let message: String

    public init(_ status: HTTPResponseStatus, _ message: String? = nil) {
        self.status = status
        self.message = message ?? status.reasonPhrase
    }

    public var description: String { "\(status.code) \(message)" }
}
