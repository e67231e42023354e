import Logging
import NIOConcurrencyHelpers
import NIOCore

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

func isBadReply(_ error: any Error) -> Bool {
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
