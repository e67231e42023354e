public import AsyncHTTPClient
import Foundation
public import Logging
public import NIOCore
public import NIOHTTP1
import NIOConcurrencyHelpers
import SluiceServer
public import SluiceTraffic
public import SluiceWeb

/// An HTTP client for services calling services, on async-http-client: every call made for a request carries that
/// request's deadline, request id and trace, and every target (`scheme://host:port`) has its own circuit breaker.
///
/// ```swift
/// let users = ServiceClient()
/// engine.get("/orders/:id") { c async throws in
///     let user = try await users.get("http://users:8080/users/7", for: c).decode(User.self)
///     …
/// }
/// ```
///
/// A failed call throws `ServiceCallError`, which a handler may let through: it is answered 502, 503 (breaker
/// open) or 504 (deadline). Transport errors, timeouts and 5xx answers count as failures for the target's breaker;
/// a call cancelled because the client went away counts as neither.
public final class ServiceClient: Sendable {
    public let httpClient: HTTPClient
    /// The longest any call may take; the incoming request's deadline shortens it.
    public let timeout: TimeAmount
    /// Answers with larger bodies fail with `responseTooLarge`.
    public let maxResponseSize: Int
    public let requestIDHeader: String
    private let breakers: TargetBreakers?
    private let logger: Logger

    /// - Parameters:
    ///   - httpClient: async-http-client's client; its connection pools are shared by every call.
    ///   - breaker: the policy of each target's breaker, or nil for none.
    public init(
        httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(10),
        breaker: CircuitBreakerPolicy? = CircuitBreakerPolicy(), maxResponseSize: Int = 8 * 1024 * 1024,
        requestIDHeader: String = "x-request-id", logger: Logger = Logger(label: "sluice.web.client")
    ) {
        self.httpClient = httpClient
        self.timeout = timeout
        self.maxResponseSize = maxResponseSize
        self.requestIDHeader = requestIDHeader
        self.breakers = breaker.map { TargetBreakers(policy: $0) }
        self.logger = logger
    }

    /// The state of `target`'s breaker (`http://users:8080`), or nil when it has not been called.
    public func circuitState(of target: String) -> CircuitState? {
        breakers?.existing(target)?.state(now: Self.now)
    }

    public func get(_ url: String, headers: HTTPHeaders = [:], for c: Context?) async throws -> ServiceResponse {
        try await execute(.GET, url, headers: headers, for: c)
    }

    public func delete(_ url: String, headers: HTTPHeaders = [:], for c: Context?) async throws -> ServiceResponse {
        try await execute(.DELETE, url, headers: headers, for: c)
    }

    /// Sends `value` as JSON.
    public func post<T: Encodable>(_ url: String, json value: T, headers: HTTPHeaders = [:], for c: Context?)
        async throws -> ServiceResponse
    {
        try await send(.POST, url, json: value, headers: headers, for: c)
    }

    public func put<T: Encodable>(_ url: String, json value: T, headers: HTTPHeaders = [:], for c: Context?)
        async throws -> ServiceResponse
    {
        try await send(.PUT, url, json: value, headers: headers, for: c)
    }

    private func send<T: Encodable>(
        _ method: HTTPMethod, _ url: String, json value: T, headers: HTTPHeaders, for c: Context?
    ) async throws -> ServiceResponse {
        var headers = headers
        headers.replaceOrAdd(name: "content-type", value: "application/json")
        let body = ByteBuffer(bytes: try JSONEncoder().encode(value))
        return try await execute(method, url, headers: headers, body: body, for: c)
    }

    /// Makes one call for the request `c` (nil: a call of the service's own, with only the client's timeout).
    /// Call it from the request's handler, on its event loop.
    public func execute(
        _ method: HTTPMethod, _ url: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil, for c: Context?,
        timeout: TimeAmount? = nil
    ) async throws -> ServiceResponse {
        let propagation = c.map { CallPropagation($0, requestIDHeader: requestIDHeader) } ?? CallPropagation()
        return try await execute(method, url, headers: headers, body: body, propagation: propagation, timeout: timeout)
    }

    /// Makes one call with what `propagation` carries.
    public func execute(
        _ method: HTTPMethod, _ url: String, headers: HTTPHeaders = [:], body: ByteBuffer? = nil,
        propagation: CallPropagation, timeout: TimeAmount? = nil
    ) async throws -> ServiceResponse {
        guard let target = ServiceTarget.key(of: url) else {
            throw ServiceCallError.unreachable(target: url, reason: "not an absolute http or https URL")
        }
        let started = NIODeadline.now()
        let deadline = propagation.deadline(timeout: timeout ?? self.timeout, now: started)
        guard deadline > started else { throw ServiceCallError.deadlineExceeded(target: target) }
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers = headers
        propagation.apply(to: &request.headers, requestIDHeader: requestIDHeader)
        if let body { request.body = .bytes(body) }

        let breaker = breakers?.breaker(for: target, now: Self.now)
        var permit: CircuitPermit?
        if let breaker {
            let (admission, transition) = breaker.tryAcquireReporting(now: Self.now)
            log(transition, target: target)
            switch admission {
            case .permitted(let granted): permit = granted
            case .rejected(let retryAfter): throw ServiceCallError.circuitOpen(target: target, retryAfter: retryAfter)
            }
        }
        func settle(failed: Bool?) {
            guard let breaker, let permit else { return }
            let now = Self.now
            let transition = if let failed {
                breaker.record(permit, failed: failed, duration: .nanoseconds((NIODeadline.now() - started).nanoseconds), now: now)
            } else {
                breaker.release(permit, now: now)
            }
            log(transition, target: target)
        }
        do {
            let response = try await httpClient.execute(request, deadline: deadline, logger: nil)
            let bytes: ByteBuffer
            do {
                bytes = try await response.body.collect(upTo: maxResponseSize)
            } catch is NIOTooManyBytesError {
                settle(failed: true)
                throw ServiceCallError.responseTooLarge(target: target, limit: maxResponseSize)
            }
            settle(failed: response.status.code >= 500)
            return ServiceResponse(target: target, status: response.status, headers: response.headers, body: bytes)
        } catch let error as ServiceCallError {
            throw error
        } catch {
            if Task.isCancelled {
                settle(failed: nil)
                throw CancellationError()
            }
            settle(failed: true)
            if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .connectTimeout
                || error == .readTimeout
            {
                throw ServiceCallError.deadlineExceeded(target: target)
            }
            if NIODeadline.now() >= deadline { throw ServiceCallError.deadlineExceeded(target: target) }
            throw ServiceCallError.unreachable(target: target, reason: "\(error)")
        }
    }

    private func log(_ transition: CircuitTransition?, target: String) {
        guard let transition else { return }
        logger.warning(
            "circuit breaker changed state",
            metadata: [
                "target": "\(target)", "from": "\(transition.from.rawValue)", "to": "\(transition.to.rawValue)",
                "reason": "\(transition.reason)",
            ])
    }

    private static var now: Duration { MonotonicClock.now }
}

/// One breaker per target, made on first use. At most `limit` are kept: past it, a closed breaker (one that holds
/// nothing worth keeping but its window) makes room, so targets built from input cannot grow the table forever.
final class TargetBreakers: Sendable {
    private let policy: CircuitBreakerPolicy
    private let limit: Int
    private let table = NIOLockedValueBox([String: SharedCircuitBreaker]())

    init(policy: CircuitBreakerPolicy, limit: Int = 1024) {
        self.policy = policy
        self.limit = limit
    }

    func breaker(for target: String, now: Duration) -> SharedCircuitBreaker {
        table.withLockedValue { table in
            if let breaker = table[target] { return breaker }
            if table.count >= limit, let spare = table.first(where: { $0.value.state(now: now) == .closed })?.key {
                table[spare] = nil
            }
            let made = SharedCircuitBreaker(policy: policy)
            table[target] = made
            return made
        }
    }

    var count: Int { table.withLockedValue { $0.count } }

    func existing(_ target: String) -> SharedCircuitBreaker? { table.withLockedValue { $0[target] } }
}

/// The breaker key of a URL: `scheme://host:port`, lowercased, with the scheme's port when none is given.
enum ServiceTarget {
    static func key(of url: String) -> String? {
        let lower = url.lowercased()
        let scheme: String
        let defaultPort: Int
        if lower.hasPrefix("http://") {
            (scheme, defaultPort) = ("http", 80)
        } else if lower.hasPrefix("https://") {
            (scheme, defaultPort) = ("https", 443)
        } else {
            return nil
        }
        let rest = lower.dropFirst(scheme.count + 3)
        var authority = rest.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        guard !authority.isEmpty else { return nil }
        // `host:port`, `[v6]:port`, or either without the port.
        if let colon = authority.lastIndex(of: ":"), !authority[colon...].contains("]") {
            let port = authority[authority.index(after: colon)...]
            guard !port.isEmpty, port.allSatisfy(\.isNumber), Int(port).map({ (1...65535).contains($0) }) == true else {
                return nil
            }
            return "\(scheme)://\(authority)"
        }
        return "\(scheme)://\(authority):\(defaultPort)"
    }
}
