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

// MARK: - State

struct LeaseKey: Hashable, Sendable {
    var limit: String
    var key: String
}

/// An open connection with the script loaded.
struct Connection: Sendable {
    var client: RedisClient
    var scriptSHA: String
}

/// One Redis call for one lease: what was asked and when.
struct Call: Sendable {
    var leaseKey: LeaseKey
    var want: Int
    var interval: Duration
    var burst: Int
    var lifetime: Duration
    var cap: Int
    /// The caller's clock when the call started, and the monotonic clock at the same moment: a reply's time in the
    /// caller's clock is `now + (NIODeadline.now() - started)`.
    var now: Duration
    var started: NIODeadline
}

/// The script's reply.
struct Grant {
    var granted: Int
    var remaining: Int
    var retryAfter: Duration

    init(_ reply: RESPValue) throws {
        guard let values = reply.array, values.count == 3, let granted = values[0].int,
            let remaining = values[1].int, let retry = values[2].int, granted >= 0
        else { throw RedisRateLimiterError.badReply("\(reply)") }
        self.granted = granted
        self.remaining = max(0, remaining)
        self.retryAfter = .microseconds(max(0, retry))
    }
}

/// A log line owed after the lock is released.
enum Transition {
    case none
    case outage(any Error)
    case recovered(failedOpen: Int)
}

/// What finishing a call does once the lock is released.
struct CallOutcome {
    var decisions: [(EventLoopPromise<GlobalRateLimitDecision>, GlobalRateLimitDecision)] = []
    var transition = Transition.none
    var clientToClose: RedisClient?
    var nextCall: Call?
}

/// One `(limit, key)`'s tokens on this gateway.
struct Lease: Sendable {
    /// Tokens taken from Redis and not spent yet; good until `expires`.
    var tokens = 0
    var expires = Duration.zero
    /// Redis's bucket after the grant that made this lease.
    var redisRemaining = 0
    /// Redis refused: answer `.limited` locally until then.
    var deniedUntil = Duration.zero
    /// Tokens to ask for next time (adapts to demand, see `RedisRateLimiter`).
    var nextBatch = 1
    /// Whether a Redis call for this lease is in flight, and the requests waiting on it.
    var inFlight = false
    var waiters: [EventLoopPromise<GlobalRateLimitDecision>] = []
    var lastUsed: Duration

    init(lastUsed: Duration) { self.lastUsed = lastUsed }

    /// Marks a call in flight for `waiter`; returns how many tokens to ask for.
    mutating func startCall(waiter: EventLoopPromise<GlobalRateLimitDecision>, now: Duration, cap: Int) -> Int {
        if tokens > 0 {
            // The last lease expired with tokens left: demand is lower than the batch.
            nextBatch = max(1, nextBatch / 2)
            tokens = 0
        }
        inFlight = true
        waiters = [waiter]
        lastUsed = now
        return min(cap, nextBatch)
    }
}

private func isBadReply(_ error: any Error) -> Bool {
    if case .badReply = error as? RedisRateLimiterError { return true }
    return false
}

enum ConnectionState: Sendable {
    /// Never connected: the first request connects (and waits for it).
    case idle
    case connecting
    case connected(Connection)
    /// No connection; none is tried before `retryAt`.
    case down(retryAt: NIODeadline)
    case closed

    var isClosed: Bool {
        if case .closed = self { return true }
        return false
    }
}

struct State: Sendable {
    var leases: [LeaseKey: Lease] = [:]
    var connection = ConnectionState.idle
    var connectWaiters: [@Sendable (Result<Connection, any Error>) -> Void] = []
    /// Whether Redis is considered down (set by the first failure, cleared by the next success).
    var outage = false
    var outageFailOpens = 0
    var failOpenCount = 0
    var redisCallCount = 0

    mutating func decideLocally(_ leaseKey: LeaseKey, now: Duration, batch: Int) -> GlobalRateLimitDecision? {
        guard let index = leases.index(forKey: leaseKey) else { return nil }
        let lease = leases.values[index]
        guard !lease.inFlight else { return nil }
        if lease.tokens > 0, now < lease.expires {
            leases.values[index].tokens -= 1
            leases.values[index].lastUsed = now
            if lease.tokens == 1 {
                // Used up before it expired: ask for more next time.
                leases.values[index].nextBatch = min(batch, lease.nextBatch * 2)
            }
            return .allowed(remaining: lease.tokens - 1 + lease.redisRemaining)
        }
        if now < lease.deniedUntil {
            leases.values[index].lastUsed = now
            return .limited(retryAfter: lease.deniedUntil - now)
        }
        return nil
    }

    mutating func countFailOpen(_ count: Int) {
        failOpenCount += count
        if outage { outageFailOpens += count }
    }

    mutating func enterOutage(_ error: any Error) -> Transition {
        guard !outage else { return .none }
        outage = true
        outageFailOpens = 0
        return .outage(error)
    }

    mutating func leaveOutage() -> Transition {
        guard outage else { return .none }
        outage = false
        return .recovered(failedOpen: outageFailOpens)
    }

    mutating func finish(
        _ call: Call, connection callConnection: Connection?, result: Result<Grant, any Error>, batch: Int,
        backoff: Duration
    ) -> CallOutcome {
        var outcome = CallOutcome()
        guard let index = leases.index(forKey: call.leaseKey) else { return outcome }
        var lease = leases.values[index]
        let now = call.now + Duration(NIODeadline.now() - call.started)
        switch result {
        case .success(let grant):
            outcome.transition = leaveOutage()
            lease.tokens = grant.granted
            lease.expires = now + call.lifetime
            lease.redisRemaining = grant.remaining
            let refused = grant.granted < call.want
            if refused {
                // Wait for up to a whole batch to accrue, not just one token, so that refused traffic stays off
                // Redis. The wait is drawn at random: gateways refused at the same moment would otherwise all come
                // back at the same moment, and the one whose requests happen to come first would win every time.
                let batchWait = call.interval * Int.random(in: 0..<max(1, min(call.want, call.burst)))
                lease.deniedUntil = now + grant.retryAfter + batchWait
            }
            var unserved: [EventLoopPromise<GlobalRateLimitDecision>] = []
            for waiter in lease.waiters {
                if lease.tokens > 0 {
                    lease.tokens -= 1
                    outcome.decisions.append((waiter, .allowed(remaining: lease.tokens + lease.redisRemaining)))
                } else if refused {
                    outcome.decisions.append((waiter, .limited(retryAfter: lease.deniedUntil - now)))
                } else {
                    unserved.append(waiter)
                }
            }
            if !refused && lease.tokens == 0 { lease.nextBatch = min(batch, lease.nextBatch * 2) }
            lease.waiters = unserved
            if unserved.isEmpty {
                lease.inFlight = false
            } else {
                // More requests joined than the call asked tokens for: ask again for them.
                var next = call
                next.want = min(call.cap, max(lease.nextBatch, unserved.count))
                next.now = now
                next.started = .now()
                outcome.nextCall = next
            }
        case .failure(let error):
            // An error reply or an odd script reply leaves the connection in step; anything else (closed, broken,
            // timed out, undecodable) means it is gone or unusable.
            let connectionLost = !(error is RedisError) && !(error is RedisRateLimiterError && isBadReply(error))
            if connectionLost, let callConnection {
                if case .connected(let current) = connection, current.client === callConnection.client {
                    connection = .down(retryAt: .now() + TimeAmount(backoff))
                    outcome.clientToClose = current.client
                } else if case .down = connection {
                    connection = .down(retryAt: .now() + TimeAmount(backoff))
                }
            }
            if !connection.isClosed { outcome.transition = enterOutage(error) }
            countFailOpen(lease.waiters.count)
            outcome.decisions = lease.waiters.map { ($0, .failOpen) }
            lease.waiters = []
            lease.inFlight = false
        }
        leases.values[index] = lease
        return outcome
    }

    /// Makes room: drops leases that hold nothing, then the least recently used idle ones down to 90 % of the cap.
    mutating func evict(now: Duration, maxLeases: Int) {
        leases = leases.filter { _, lease in
            lease.inFlight || (lease.tokens > 0 && now < lease.expires) || now < lease.deniedUntil
        }
        let target = maxLeases * 9 / 10
        guard leases.count > target else { return }
        let oldest = leases.filter { !$0.value.inFlight }.sorted { $0.value.lastUsed < $1.value.lastUsed }
        for (key, _) in oldest.prefix(leases.count - target) { leases[key] = nil }
    }
}

// MARK: - Helpers

extension EventLoopFuture where Value: Sendable {
    /// This future, or a `RedisRateLimiterError.timeout` failure if it takes longer than `timeout`.
    func within(_ timeout: Duration) -> EventLoopFuture<Value> {
        let loop = eventLoop
        let promise = loop.makePromise(of: Value.self)
        // Whichever of the timer and the reply comes second finds the promise done and leaves it.
        let done = NIOLockedValueBox(false)
        let timer = loop.scheduleTask(in: TimeAmount(timeout)) {
            guard
                done.withLockedValue({ done in
                    defer { done = true }
                    return !done
                })
            else { return }
            promise.fail(RedisRateLimiterError.timeout)
        }
        whenComplete { result in
            timer.cancel()
            guard
                done.withLockedValue({ done in
                    defer { done = true }
                    return !done
                })
            else { return }
            promise.completeWith(result)
        }
        return promise.futureResult
    }
}

extension Duration {
    /// Whole and fractional microseconds, as the script takes them.
    var microseconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) * 1e6 + Double(attoseconds) / 1e12
    }
}
