public import Logging
import NIOConcurrencyHelpers
public import NIOCore

/// What the global limiter says about one request.
public enum GlobalRateLimitDecision: Sendable, Equatable {
    /// Let it through; `remaining` estimates the tokens left (this gateway's lease plus Redis's bucket).
    case allowed(remaining: Int)
    /// Refuse it; a token is expected after `retryAfter`.
    case limited(retryAfter: Duration)
    /// Redis is unreachable (or misbehaving): let it through unlimited.
    case failOpen
}

/// Why a Redis exchange of the limiter gave no answer (all of these fail open).
public enum RedisRateLimiterError: Error, Hashable {
    /// Redis did not answer within the limiter's `timeout`.
    case timeout
    /// Redis is down and the reconnect backoff has not run out.
    case unavailable
    /// The script replied with something other than three integers.
    case badReply(String)
    /// `shutdown()` was called.
    case shutDown
}

/// Rate limits shared by several gateways through Redis, with a local token lease in front.
///
/// Redis holds each `(limit, key)` bucket (see `RateLimitScript`); a gateway takes tokens from it in batches of up to
/// `batch` and spends them locally, so Redis sees one call per batch rather than one per request. Every request a
/// gateway allows spends a token Redis granted, so the gateways together never allow more than Redis grants. A lease
/// lives for `clamp(batch × period / count, 10 ms, 1 s)`: tokens a gateway took but did not spend by then are dropped
/// (the limit errs on the strict side), and tokens are never spent more than one lifetime after Redis granted them,
/// which bounds how far a lease can shift traffic in time. The batch size adapts per key: it starts at 1, doubles
/// when a lease is used up before it expires, halves when one expires unused, and never exceeds what the limit emits
/// in one lease lifetime, so a key with little traffic takes one token at a time and wastes none.
///
/// A refusal from Redis is remembered locally, so refused traffic stays off Redis too: until the next token accrues
/// plus a random share of a batch's worth of intervals (tokens only come back with time, so no other gateway can free
/// one sooner; the random part spreads gateways refused together so that no one of them always wins the next batch).
/// The `retryAfter` of such a refusal is that local wait, so it may exceed Redis's own by up to `batch - 1` intervals.
///
/// Requests for a key that find a Redis call for it in flight join that call instead of sending their own.
///
/// When Redis cannot be reached (refused, closed, no answer within `timeout`) every request that needs Redis gets
/// `.failOpen` at once, and for `reconnectBackoff` afterwards the limiter does not try again, answering `.failOpen`
/// without waiting; after that one request triggers a reconnect in the background (it and its peers still fail open)
/// until the connection is back and a call succeeds. One warning is logged per outage and one info line on recovery.
///
/// `now` is the caller's monotonic clock (any fixed origin), used for leases only: the buckets use Redis's clock.
public final class RedisRateLimiter: Sendable {
    public let host: String
    public let port: Int
    /// Most tokens taken from Redis in one call (1...10 000).
    public let batch: Int
    /// Longest wait for Redis (connecting, or one call) before failing open.
    public let timeout: Duration
    /// Least time between reconnect attempts while Redis is down.
    public let reconnectBackoff: Duration
    /// Most `(limit, key)` leases kept; past that the least recently used idle ones are dropped.
    public let maxLeases: Int

    private let group: any EventLoopGroup
    private let logger: Logger
    private let state: NIOLockedValueBox<State>

    public init(
        host: String,
        port: Int,
        group: any EventLoopGroup,
        batch: Int = 10,
        timeout: Duration = .milliseconds(50),
        reconnectBackoff: Duration = .seconds(1),
        maxLeases: Int = 10_000,
        logger: Logger
    ) {
        self.host = host
        self.port = port
        self.group = group
        self.batch = min(max(1, batch), 10_000)
        self.timeout = timeout
        self.reconnectBackoff = reconnectBackoff
        self.maxLeases = max(1, maxLeases)
        self.logger = logger
        self.state = NIOLockedValueBox(State())
    }

    // MARK: Statistics

    /// Decisions answered `.failOpen` so far.
    public var failOpenCount: Int { state.withLockedValue { $0.failOpenCount } }
    /// Script calls sent to Redis so far (each takes a batch of tokens).
    public var redisCallCount: Int { state.withLockedValue { $0.redisCallCount } }
    /// Leases currently kept.
    public var leaseCount: Int { state.withLockedValue { $0.leases.count } }
    /// Whether the limiter currently considers Redis down.
    public var isInOutage: Bool { state.withLockedValue { $0.outage } }

    // MARK: Deciding

    /// Answers from the local lease alone, without I/O: `.allowed` while the lease has tokens, `.limited` while a
    /// refusal from Redis stands, nil when Redis must be asked (then call `acquire`).
    public func acquireLocally(limit: String, key: String, now: Duration) -> GlobalRateLimitDecision? {
        state.withLockedValue { $0.decideLocally(LeaseKey(limit: limit, key: key), now: now, batch: batch) }
    }

    /// Decides on one request to `key` under `limit` (`count` per `period`, up to `burst` at once), from the local
    /// lease if it can and from Redis if it must. Never fails: Redis trouble gives `.failOpen`.
    public func acquire(
        limit: String, key: String, count: Int, period: Duration, burst: Int, now: Duration,
        on eventLoop: any EventLoop
    ) -> EventLoopFuture<GlobalRateLimitDecision> {
        guard count > 0, period > .zero else {
            return eventLoop.makeSucceededFuture(.limited(retryAfter: period > .zero ? period : .seconds(1)))
        }
        let leaseKey = LeaseKey(limit: limit, key: key)
        // Emission interval: one token per `interval`. Clamped so that absurd limits cannot divide by zero.
        let interval = max(period / count, .nanoseconds(1))
        let burst = max(1, burst)
        let lifetime: Duration =
            interval >= .seconds(1) ? .seconds(1) : min(max(interval * batch, .milliseconds(10)), .seconds(1))
        // Never lease more than the limit makes in one lease lifetime, however high the demand.
        let cap = max(1, Int(min(Double(batch), lifetime / interval)))

        enum Step {
            case answer(GlobalRateLimitDecision)
            case failOpen(probe: Bool)
            case wait(EventLoopFuture<GlobalRateLimitDecision>)
            case call(Call, EventLoopFuture<GlobalRateLimitDecision>)
        }
        let step: Step = state.withLockedValue { state in
            if let decision = state.decideLocally(leaseKey, now: now, batch: batch) { return .answer(decision) }
            if let index = state.leases.index(forKey: leaseKey), state.leases.values[index].inFlight {
                let promise = eventLoop.makePromise(of: GlobalRateLimitDecision.self)
                state.leases.values[index].waiters.append(promise)
                return .wait(promise.futureResult)
            }
            switch state.connection {
            case .closed:
                state.countFailOpen(1)
                return .failOpen(probe: false)
            case .down(let retryAt) where NIODeadline.now() < retryAt:
                state.countFailOpen(1)
                return .failOpen(probe: false)
            case .idle where state.outage, .down where state.outage:
                // Backoff over: probe in the background; this request does not wait for it.
                state.connection = .connecting
                state.countFailOpen(1)
                return .failOpen(probe: true)
            case .connecting where state.outage:
                state.countFailOpen(1)
                return .failOpen(probe: false)
            default:
                break
            }
            if state.leases[leaseKey] == nil {
                if state.leases.count >= maxLeases { state.evict(now: now, maxLeases: maxLeases) }
                state.leases[leaseKey] = Lease(lastUsed: now)
            }
            let index = state.leases.index(forKey: leaseKey)!
            let promise = eventLoop.makePromise(of: GlobalRateLimitDecision.self)
            let want = state.leases.values[index].startCall(waiter: promise, now: now, cap: cap)
            let call = Call(
                leaseKey: leaseKey, want: want, interval: interval, burst: burst, lifetime: lifetime, cap: cap,
                now: now, started: .now()
            )
            return .call(call, promise.futureResult)
        }
        switch step {
        case .answer(let decision):
            return eventLoop.makeSucceededFuture(decision)
        case .failOpen(let probe):
            if probe { connect() }
            return eventLoop.makeSucceededFuture(.failOpen)
        case .wait(let future):
            return future
        case .call(let call, let future):
            start(call)
            return future
        }
    }

    /// Closes the Redis connection. Later requests fail open (without logging); calls in flight finish first.
    public func shutdown() -> EventLoopFuture<Void> {
        let previous = state.withLockedValue { state in
            defer { state.connection = .closed }
            return state.connection
        }
        if case .connected(let connection) = previous { return connection.client.close() }
        return group.next().makeSucceededVoidFuture()
    }

    // MARK: Redis calls

    private func start(_ call: Call) {
        withConnection { result in
            switch result {
            case .success(let connection):
                self.runScript(call, on: connection).whenComplete { result in
                    self.finish(call, connection: connection, result: result)
                }
            case .failure(let error):
                self.finish(call, connection: nil, result: .failure(error))
            }
        }
    }

    /// Runs the script for `call` (EVALSHA, or EVAL when Redis forgot the script), failing after `timeout`.
    private func runScript(_ call: Call, on connection: Connection) -> EventLoopFuture<RESPValue> {
        state.withLockedValue { $0.redisCallCount += 1 }
        let client = connection.client
        let arguments = [
            "1", "sluice:rl:\(call.leaseKey.limit):\(call.leaseKey.key)", String(call.want),
            String(call.interval.microseconds), String(call.burst),
        ]
        let reply = client.send(["EVALSHA", connection.scriptSHA] + arguments).flatMapError { error in
            if let error = error as? RedisError, error.code == "NOSCRIPT" {
                return client.send(["EVAL", RateLimitScript.source] + arguments)
            }
            return client.eventLoop.makeFailedFuture(error)
        }
        return reply.within(timeout)
    }

    private func finish(_ call: Call, connection: Connection?, result: Result<RESPValue, any Error>) {
        let grant = result.flatMap { reply in Result { try Grant(reply) } }
        let outcome = state.withLockedValue { state in
            state.finish(call, connection: connection, result: grant, batch: batch, backoff: reconnectBackoff)
        }
        // Log first: a caller woken by its decision may look for the line.
        log(outcome.transition)
        for (promise, decision) in outcome.decisions { promise.succeed(decision) }
        if let client = outcome.clientToClose { _ = client.close() }
        if let next = outcome.nextCall { start(next) }
    }

    // MARK: Connection

    private func withConnection(_ body: @escaping @Sendable (Result<Connection, any Error>) -> Void) {
        enum Action {
            case use(Connection)
            case fail(any Error)
            case wait
            case connect
        }
        let action: Action = state.withLockedValue { state in
            switch state.connection {
            case .connected(let connection):
                return .use(connection)
            case .connecting:
                state.connectWaiters.append(body)
                return .wait
            case .closed:
                return .fail(RedisRateLimiterError.shutDown)
            case .down(let retryAt) where NIODeadline.now() < retryAt:
                return .fail(RedisRateLimiterError.unavailable)
            case .idle, .down:
                state.connection = .connecting
                state.connectWaiters.append(body)
                return .connect
            }
        }
        switch action {
        case .use(let connection): body(.success(connection))
        case .fail(let error): body(.failure(error))
        case .wait: break
        case .connect: connect()
        }
    }

    /// Opens a connection and loads the script; the state must already be `.connecting`.
    private func connect() {
        let loop = group.next()
        let timeout = self.timeout
        RedisClient.connect(host: host, port: port, on: loop, connectTimeout: TimeAmount(timeout))
            .flatMap { client in
                client.send(["SCRIPT", "LOAD", RateLimitScript.source])
                    .within(timeout)
                    .flatMapThrowing { reply -> Connection in
                        guard let sha = reply.string else { throw RedisRateLimiterError.badReply("\(reply)") }
                        return Connection(client: client, scriptSHA: sha)
                    }
                    .flatMapError { error in
                        client.close().flatMapThrowing { throw error }
                    }
            }
            .whenComplete { result in self.connected(result) }
    }

    private func connected(_ result: Result<Connection, any Error>) {
        let (waiters, transition, shutDown) = state.withLockedValue { state in
            let waiters = state.connectWaiters
            state.connectWaiters = []
            if case .closed = state.connection { return (waiters, Transition.none, true) }
            switch result {
            case .success(let connection):
                state.connection = .connected(connection)
                return (waiters, .none, false)
            case .failure(let error):
                state.connection = .down(retryAt: .now() + TimeAmount(reconnectBackoff))
                return (waiters, state.enterOutage(error), false)
            }
        }
        log(transition)
        if case .success(let connection) = result {
            if shutDown {
                _ = connection.client.close()
            } else {
                connection.client.closeFuture.whenComplete { _ in self.closed(connection.client) }
            }
        }
        let outcome: Result<Connection, any Error> = shutDown ? .failure(RedisRateLimiterError.shutDown) : result
        for waiter in waiters { waiter(outcome) }
    }

    /// The connection closed: the next request reconnects (a call that failed with it has already, or will, put the
    /// limiter in an outage with backoff).
    private func closed(_ client: RedisClient) {
        state.withLockedValue { state in
            if case .connected(let connection) = state.connection, connection.client === client {
                state.connection = .down(retryAt: .now())
            }
        }
    }

    private func log(_ transition: Transition) {
        switch transition {
        case .none:
            break
        case .outage(let error):
            logger.warning(
                "global rate limit backend unreachable, failing open until it is back",
                metadata: ["redis": "\(host):\(port)", "error": "\(error)"]
            )
        case .recovered(let failedOpen):
            logger.info(
                "global rate limit backend reachable again",
                metadata: ["redis": "\(host):\(port)", "failed_open": "\(failedOpen)"]
            )
        }
    }
}
