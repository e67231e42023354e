import SluiceConfig
import SluiceTraffic
import Testing

@testable import SluiceGateway

/// Walks every state the request machine can reach, the way `ProxyHandler` drives it, from a set of requests (with
/// and without a body, idempotent or not, one or three servers, no retries or two, budget or none), and checks the
/// properties the proxy promises in each: one answer per request, never more tries than servers, never work sent
/// twice when it must not be, the timer only while something streams, nothing held once a request is over.
@Suite struct ProxyRequestMachineWalkTests {
    typealias Machine = ProxyRequestMachine

    /// The machine, and what the handler driving it holds.
    struct World: Hashable {
        var machine = Machine()
        /// A connect is under way (the pool will answer).
        var connectPending = false
        /// An upstream connection is held by the request.
        var holdsUpstream = false
        /// Final answers the client got for this request (a forwarded head, a gateway answer).
        var answers = 0
        /// The client connection is being closed (cut off after a partial answer).
        var cutOff = false
        var bodyParts = 0
        /// Body bytes went upstream and were not kept: the request cannot be sent again.
        var bodyGone = false
        /// The upstream said keep-alive in its answer head.
        var upstreamKeepAlive = true
        var budget: Bool
        var keepAliveRequested: Bool
    }

    enum Event: CaseIterable {
        case gatesPass, gatesRefuse, body, bigBody, end
        case connected, unreachable, busy
        case interim, switching, ok, okClose, unavailable, upstreamBody, upstreamEnd, upstreamClosed
        case timer, clientClosed
    }

    struct Violation: Error, CustomStringConvertible {
        var description: String
    }

    /// Starts the next try as the handler does: pick a server (none left: the machine is told), connect.
    static func startTry(_ world: inout World) throws {
        var random = SplitMix64Generator(state: 1)
        if world.machine.tries >= world.machine.request.serverCount {
            try carryOut(world.machine.connectFailed(.noServer, budget: { false }, random: &random), &world)
            return
        }
        if world.bodyGone { throw Violation(description: "a request whose body is gone was tried again") }
        world.machine.tryStarted()
        world.connectPending = true
    }

    static func carryOut(_ action: Machine.FailureAction, _ world: inout World) throws {
        world.holdsUpstream = false
        world.connectPending = false
        switch action {
        case .retry(let delay, _):
            let ceiling = world.machine.request.retryPolicy.backoff * 10
            guard delay >= .zero && delay <= ceiling else { throw Violation(description: "backoff \(delay)") }
            try startTry(&world)
        case .fail(let status, _):
            guard [502, 503, 504].contains(status) else { throw Violation(description: "gateway status \(status)") }
            _ = world.machine.answer()
            world.answers += 1
        case .abortClient:
            world.cutOff = true
        case .none:
            break
        }
    }

    /// Applies `event` if the handler could see it in this world; nil when it could not.
    static func apply(_ event: Event, to start: World) throws -> World? {
        var world = start
        var random = SplitMix64Generator(state: 7)
        let budget = world.budget
        let phase = world.machine.phase
        let clientSide = !world.cutOff && phase != .idle
        switch event {
        case .gatesPass:
            guard phase == .gating else { return nil }
            switch world.machine.gatesPassed() {
            case .connect: try startTry(&world)
            case .readBody: break
            case .none: throw Violation(description: "gates passed in gating, and nothing happened")
            }
        case .gatesRefuse:
            guard phase == .gating else { return nil }
            _ = world.machine.answer()
            world.answers += 1
        case .body, .bigBody:
            guard clientSide, world.bodyParts < 2, world.machine.request.hasBody, !world.machine.requestEnded else {
                return nil
            }
            world.bodyParts += 1
            let action = world.machine.receivedBody(bytes: event == .body ? 10 : 70_000)
            switch action {
            case .buffer(let connect, _):
                if connect { try startTry(&world) }
            case .forward:
                guard world.holdsUpstream else { throw Violation(description: "forwarded without a connection") }
                world.bodyGone = true
            case .drop:
                break
            }
        case .end:
            guard clientSide, !world.machine.requestEnded else { return nil }
            switch world.machine.receivedEnd() {
            case .buffer(let connect): if connect { try startTry(&world) }
            case .forward:
                guard world.holdsUpstream else { throw Violation(description: "end forwarded without a connection") }
            case .none: break
            }
        case .connected:
            guard world.connectPending else { return nil }
            world.connectPending = false
            guard let start = world.machine.connected() else {
                throw Violation(description: "a pending connect was refused")
            }
            world.holdsUpstream = true
            if world.machine.request.hasBody && !start.keepBuffered && world.bodyParts > 0 { world.bodyGone = true }
        case .unreachable, .busy:
            guard world.connectPending else { return nil }
            try carryOut(
                world.machine.connectFailed(event == .unreachable ? .unreachable : .busy, budget: { budget }, random: &random),
                &world)
        case .interim, .switching, .ok, .okClose, .unavailable:
            guard world.holdsUpstream, phase == .forwarding else { return nil }
            let status = [Event.interim: 100, .switching: 101, .ok: 200, .okClose: 200, .unavailable: 503][event]!
            let action = world.machine.upstreamHead(
                status: status, keepAlive: event != .okClose, budget: { budget }, random: &random)
            switch action {
            case .ignore:
                guard status == 100 else { throw Violation(description: "final answer \(status) ignored") }
            case .broken:
                try carryOut(.fail(status: 502, message: ""), &world)
            case .tunnel:
                throw Violation(description: "a 101 opened a tunnel for a request that did not ask to upgrade")
            case .retry(let delay, let resend):
                guard status >= 500 else { throw Violation(description: "retried a \(status)") }
                try carryOut(.retry(delay: delay, resend: resend), &world)
            case .forward(let closeClient, _):
                world.answers += 1
                world.upstreamKeepAlive = event != .okClose
                guard closeClient == !world.machine.keepAlive else {
                    throw Violation(description: "the head's Connection does not follow the client's keep-alive")
                }
            }
        case .upstreamBody:
            guard world.holdsUpstream, phase == .responding else { return nil }
            guard world.machine.progressed() != nil else { throw Violation(description: "a streaming answer has no idle deadline") }
        case .upstreamEnd:
            guard world.holdsUpstream, phase == .responding else { return nil }
            let ended = world.machine.requestEnded
            guard let end = world.machine.upstreamEnded() else { throw Violation(description: "an answer's end was refused") }
            if end.reuseUpstream && !(ended && world.upstreamKeepAlive) {
                throw Violation(description: "an upstream connection out of step was reused")
            }
            if end.closeAfterWrite && world.machine.headSaidClose {
                throw Violation(description: "closing twice")
            }
            world.holdsUpstream = false
        case .upstreamClosed:
            guard world.holdsUpstream else { return nil }
            try carryOut(world.machine.upstreamClosed(budget: { budget }, random: &random), &world)
        case .timer:
            guard world.machine.timerArmed else { return nil }
            try carryOut(world.machine.timerFired(budget: { budget }, random: &random), &world)
        case .clientClosed:
            guard phase != .idle else { return nil }
            _ = world.machine.clientClosed()
            world.holdsUpstream = false
            world.connectPending = false
            world.cutOff = true
        }
        try check(world, after: event)
        return world
    }

    /// What holds in every reachable state.
    static func check(_ world: World, after event: Event) throws {
        let machine = world.machine
        let request = machine.request
        func violation(_ text: String) -> Violation { Violation(description: "after \(event): \(text) in \(world)") }
        if world.answers > 1 { throw violation("two answers for one request") }
        if machine.tries > request.serverCount { throw violation("more tries than servers") }
        let resent = machine.tries - machine.unreachedTries
        if resent > request.retryPolicy.retries + 1 { throw violation("more tries than retries allow") }
        if !request.idempotent && resent > 1 { throw violation("a non-idempotent request sent twice") }
        if machine.timerArmed && machine.phase != .forwarding && machine.phase != .responding {
            throw violation("a deadline while nothing streams")
        }
        if world.holdsUpstream != (machine.phase == .forwarding || machine.phase == .responding) {
            throw violation("the upstream connection is held outside forwarding")
        }
        if world.connectPending && machine.phase != .connecting { throw violation("a connect outside connecting") }
        if machine.phase == .idle && (machine.bufferedBytes != 0 || machine.replayable) {
            throw violation("a finished request still holds its body")
        }
        if machine.phase == .answered && request.hasBody && machine.keepAlive {
            throw violation("an answer left an unread body on a kept-alive connection")
        }
        if !world.keepAliveRequested && machine.keepAlive { throw violation("keep-alive the client did not ask for") }
        if machine.phase == .idle && !world.cutOff && world.answers != 1 { throw violation("a request ended unanswered") }
    }

    static func starts() -> [World] {
        var worlds: [World] = []
        for hasBody in [false, true] {
            for idempotent in [true, false] {
                for servers in [1, 3] {
                    for retries in [0, 2] {
                        for budget in [true, false] {
                            for bufferSize in [0, 100] {
                                for keepAlive in [true, false] {
                                    var world = World(budget: budget, keepAliveRequested: keepAlive)
                                    world.machine.receivedHead(keepAlive: keepAlive, hasBody: hasBody)
                                    world.machine.routed(
                                        Machine.Request(
                                            bufferSize: bufferSize, idempotent: idempotent,
                                            retryPolicy: RetryPolicy(
                                                retries: retries,
                                                on: [.connectFailure, .reset, .status(503), .status(504)]),
                                            serverCount: servers, responseTimeout: 5, idleTimeout: 7))
                                    worlds.append(world)
                                }
                            }
                        }
                    }
                }
            }
        }
        return worlds
    }

    @Test func everyReachableStateKeepsThePromises() throws {
        var seen = Set<World>()
        var frontier = Self.starts()
        var transitions = 0
        while let world = frontier.popLast() {
            guard seen.insert(world).inserted else { continue }
            for event in Event.allCases {
                if let next = try Self.apply(event, to: world) {
                    transitions += 1
                    frontier.append(next)
                }
            }
        }
        print("request machine: \(seen.count) states, \(transitions) transitions")
        #expect(seen.count > 1000, "the walk covers the machine: \(seen.count) states")
        // Every phase is reached.
        let phases = Set(seen.map { "\($0.machine.phase)" })
        #expect(phases.count == 8, "phases reached: \(phases.sorted())")
    }

    @Test func everyRequestCanFinish() throws {
        // From every state reached without cutting the client off, the request can still end with one answer.
        var seen = Set<World>()
        var frontier = Self.starts()
        while let world = frontier.popLast() {
            guard seen.insert(world).inserted else { continue }
            for event in Event.allCases where event != .clientClosed {
                if let next = try Self.apply(event, to: world), !next.cutOff { frontier.append(next) }
            }
        }
        var finished = Set(seen.filter { $0.machine.phase == .idle && $0.answers == 1 })
        var changed = true
        while changed {
            changed = false
            for world in seen where !finished.contains(world) {
                for event in Event.allCases where event != .clientClosed {
                    if let next = try Self.apply(event, to: world), finished.contains(next) {
                        finished.insert(world)
                        changed = true
                        break
                    }
                }
            }
        }
        let stuck = seen.subtracting(finished)
        #expect(stuck.isEmpty, "\(stuck.count) states cannot finish, e.g. \(String(describing: stuck.first))")
    }
}
