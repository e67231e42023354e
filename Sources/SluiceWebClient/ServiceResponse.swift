public import Foundation
public import NIOCore
public import NIOHTTP1

/// A whole answer from an outbound call.
public struct ServiceResponse: Sendable {
    /// The target it came from (`http://users:8080`).
    public let target: String
    public let status: HTTPResponseStatus
    public let headers: HTTPHeaders
    public let body: ByteBuffer

    public init(target: String, status: HTTPResponseStatus, headers: HTTPHeaders, body: ByteBuffer) {
        self.target = target
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// The body as UTF-8 text.
    public var text: String { String(buffer: body) }

    /// Throws `ServiceCallError.failedStatus` (answered 502) unless the status is 2xx.
    @discardableResult
    public func requireSuccess() throws -> ServiceResponse {
        guard (200..<300).contains(status.code) else { throw ServiceCallError.failedStatus(target: target, status: status) }
        return self
    }

    /// The body decoded from JSON, after `requireSuccess()`. A body that does not decode is the target's fault: 502.
    public func decode<T: Decodable>(_ type: T.Type, decoder: JSONDecoder = JSONDecoder()) throws -> T {
        try requireSuccess()
        do {
            return try decoder.decode(type, from: Data(body.readableBytesView))
        } catch {
            throw ServiceCallError.unreachable(target: target, reason: "answer did not decode as \(T.self): \(error)")
        }
    }
}
