import SluiceConfig
import SluiceTraffic
import Testing

@testable import SluiceGateway

/// The request machine's decisions, event by event, without channels.
@Suite struct ProxyRequestMachineTests {
    typealias Machine = ProxyRequestMachine
    var random = SplitMix64Generator(state: 42)

    static func request(
        retries: Int = 1, on: [RetryCondition] = [.connectFailure, .reset], servers: Int = 3, bufferSize: Int = 1024,
        idempotent: Bool = true, retryNonIdempotent: Bool = false, expectsContinue: Bool = false
    ) -> Machine.Request {
        Machine.Request(
            expectsContinue: expectsContinue, bufferSize: bufferSize, idempotent: idempotent,
            retryPolicy: RetryPolicy(retries: retries, on: on, backoff: .milliseconds(25)),
            retryNonIdempotent: retryNonIdempotent, serverCount: servers, responseTimeout: 5_000, idleTimeout: 7_000)
    }

    /// A machine with a routed request whose gates passed and whose first try is under way.
    func connecting(
        _ request: Machine.Request = request(), hasBody: Bool = false, keepAlive: Bool = true
    ) -> Machine {
        var machine = Machine()
        machine.receivedHead(keepAlive: keepAlive, hasBody: hasBody)
        machine.routed(request)
        if machine.gatesPassed() == .readBody(sendContinue: false) {
            _ = machine.receivedBody(bytes: request.bufferSize + 1)  // over the buffer: connect while it streams
        }
        machine.tryStarted()
        return machine
    }

    @Test mutating func aGetGoesThroughEveryPhaseAndLeavesBothConnectionsReusable() {
        var machine = Machine()
        machine.receivedHead(keepAlive: true, hasBody: false)
        #expect(machine.phase == .gating)
        machine.routed(Self.request())
        #expect(machine.gatesPassed() == .connect(sendContinue: false))
        #expect(machine.phase == .connecting)
        machine.tryStarted()
        #expect(machine.connected() == .init(keepBuffered: false, timeout: 7_000, requestSent: false))
        #expect(machine.receivedEnd() == .forward(responseTimeout: 5_000))
        #expect(machine.progressed() == nil, "our own writes do not move the answer's deadline")
        #expect(
            machine.upstreamHead(status: 200, keepAlive: true, budget: { true }, random: &random)
                == .forward(closeClient: false, idle: 7_000))
        #expect(machine.receivedBody(bytes: 10) == .drop, "bytes of a request framed without a body are nobody's (never sent upstream unframed)")
        #expect(machine.progressed() == 7_000)
        #expect(machine.upstreamEnded() == .init(reuseUpstream: true, closeAfterWrite: false))
        #expect(machine.phase == .idle && !machine.timerArmed)
    }

    @Test mutating func onceTheAnswerStreamsOnlyTheUpstreamMovesTheDeadline() {
        var machine = connecting(Self.request(bufferSize: 100), hasBody: true)
        _ = machine.connected()
        #expect(
            machine.upstreamHead(status: 200, keepAlive: true, budget: { true }, random: &random)
                == .forward(closeClient: false, idle: 7_000))
        #expect(machine.receivedBody(bytes: 10) == .forward(idle: nil))
        #expect(machine.progressed() == 7_000)
    }

    @Test mutating func aSwitchIsATunnelOnlyWhenTheRequestAskedForIt() {
        var upgrade = Self.request()
        upgrade.upgrade = true
        var machine = connecting(upgrade)
        _ = machine.connected()
        _ = machine.receivedEnd()
        #expect(machine.upstreamHead(status: 101, keepAlive: true, budget: { true }, random: &random) == .tunnel)
        #expect(machine.phase == .idle && !machine.timerArmed, "the request is over; the tunnel has its own timer")
        #expect(machine.upstreamEnded() == nil, "the parser's end after a 101 is not an answer's end")

        var plain = connecting()
        _ = plain.connected()
        _ = plain.receivedEnd()
        #expect(plain.upstreamHead(status: 101, keepAlive: true, budget: { true }, random: &random) == .broken)
    }

    @Test mutating func aSmallBodyIsReadWholeBeforeConnectingAndKeptForARetry() {
        var machine = Machine()
        machine.receivedHead(keepAlive: true, hasBody: true)
        machine.routed(Self.request(bufferSize: 100))
        #expect(machine.gatesPassed() == .readBody(sendContinue: false))
        #expect(machine.receivedBody(bytes: 60) == .buffer(connect: false, pauseReads: false))
        #expect(machine.receivedEnd() == .buffer(connect: true))
        machine.tryStarted()
        #expect(machine.connected() == .init(keepBuffered: true, timeout: 5_000, requestSent: true))
        #expect(
            machine.upstreamClosed(budget: { false }, random: &random) == .retry(delay: .zero, resend: false),
            "a reset before any answer is retried at once, outside the budget")
        machine.tryStarted()
        #expect(machine.connected()?.keepBuffered == true, "the whole request is sent again")
    }

    @Test mutating func aLargeBodyConnectsOnceOverTheBufferAndIsNeverResent() {
        var machine = Machine()
        machine.receivedHead(keepAlive: true, hasBody: true)
        machine.routed(Self.request(on: [.connectFailure, .reset, .status(503)], bufferSize: 100))
        _ = machine.gatesPassed()
        #expect(machine.receivedBody(bytes: 101) == .buffer(connect: true, pauseReads: false))
        machine.tryStarted()
        #expect(machine.connected()?.keepBuffered == false)
        #expect(machine.receivedBody(bytes: 10) == .forward(idle: 7_000))
        #expect(machine.receivedEnd() == .forward(responseTimeout: 5_000))
        #expect(
            machine.upstreamHead(status: 503, keepAlive: true, budget: { true }, random: &random)
                == .forward(closeClient: false, idle: 7_000), "the streamed body is gone: the 503 goes to the client")
    }

    @Test mutating func bufferedBytesPauseClientReadsWhileConnecting() {
        var machine = connecting(Self.request(bufferSize: 0), hasBody: true)
        #expect(machine.phase == .connecting && machine.bufferedBytes == 1)
        #expect(machine.receivedBody(bytes: Machine.bufferLimit - 1) == .buffer(connect: false, pauseReads: false))
        #expect(machine.receivedBody(bytes: 1) == .buffer(connect: false, pauseReads: true))
    }

    @Test mutating func unreachableServersDoNotUseUpRetriesUntilNoneIsLeft() {
        var machine = connecting(Self.request(retries: 0, servers: 3))
        for _ in 0..<2 {
            #expect(
                machine.connectFailed(.unreachable, budget: { false }, random: &random)
                    == .retry(delay: .zero, resend: false))
            machine.tryStarted()
        }
        #expect(machine.unreachedTries == 2)
        #expect(
            machine.connectFailed(.unreachable, budget: { true }, random: &random)
                == .fail(status: 502, message: "upstream connect failed\n"), "every server was tried")
        #expect(machine.answer() == .init(close: false))
    }

    @Test mutating func theBudgetGovernsResentWorkOnly() {
        var machine = connecting(Self.request(retries: 2, on: [.connectFailure, .status(503)]))
        _ = machine.connected()
        _ = machine.receivedEnd()
        #expect(
            machine.upstreamHead(status: 503, keepAlive: true, budget: { false }, random: &random)
                == .forward(closeClient: false, idle: 7_000))
        machine = connecting(Self.request(retries: 2, on: [.connectFailure, .status(503)]))
        _ = machine.connected()
        _ = machine.receivedEnd()
        #expect(
            machine.upstreamHead(status: 503, keepAlive: true, budget: { true }, random: &random)
                == .retry(delay: .zero, resend: true), "the first retry to another server goes at once")
        machine.tryStarted()
        _ = machine.connected()
        guard case .retry(let delay, true) = machine.upstreamHead(status: 503, keepAlive: true, budget: { true }, random: &random)
        else {
            Issue.record("the second resend was refused")
            return
        }
        #expect(delay >= .zero && delay <= .milliseconds(25), "the second resend backs off with jitter")
    }

    @Test mutating func nonIdempotentRequestsAreRetriedOnlyWhenNothingWasSent() {
        var machine = connecting(Self.request(on: [.connectFailure, .reset], idempotent: false))
        #expect(
            machine.connectFailed(.unreachable, budget: { true }, random: &random)
                == .fail(status: 502, message: "upstream connect failed\n"))
        machine = connecting(Self.request(on: [.connectFailure, .reset], idempotent: false, retryNonIdempotent: true))
        #expect(machine.connectFailed(.unreachable, budget: { true }, random: &random) == .retry(delay: .zero, resend: false))
        machine.tryStarted()
        _ = machine.connected()
        _ = machine.receivedEnd()
        #expect(
            machine.upstreamClosed(budget: { true }, random: &random)
                == .fail(status: 502, message: "upstream closed the connection\n"),
            "a POST that may have reached the server is not sent twice")
    }

    @Test mutating func theTimerRetriesFailsOrCutsTheClientOff() {
        var machine = connecting(Self.request(retries: 1, on: [.status(504)]))
        _ = machine.connected()
        _ = machine.receivedEnd()
        #expect(machine.timerFired(budget: { true }, random: &random) == .retry(delay: .zero, resend: true))
        machine.tryStarted()
        _ = machine.connected()
        #expect(machine.timerFired(budget: { true }, random: &random) == .fail(status: 504, message: "upstream timed out\n"))
        machine = connecting()
        _ = machine.connected()
        _ = machine.upstreamHead(status: 200, keepAlive: true, budget: { true }, random: &random)
        #expect(machine.timerFired(budget: { true }, random: &random) == .abortClient)
        #expect(machine.phase == .aborted)
        #expect(machine.timerFired(budget: { true }, random: &random) == .none, "a stale timer does nothing")
    }

    @Test mutating func anAnswerWhileTheBodyArrivesClosesTheConnection() {
        var machine = Machine()
        machine.receivedHead(keepAlive: true, hasBody: true)
        #expect(machine.answer() == .init(close: true))
        #expect(machine.phase == .answered)
        #expect(machine.receivedBody(bytes: 5) == .drop)
        #expect(machine.receivedEnd() == .none)
        #expect(machine.phase == .idle)
        machine.receivedHead(keepAlive: true, hasBody: false)
        #expect(machine.answer() == .init(close: false), "a request without a body keeps its connection")
    }

    @Test mutating func anAnswerBeforeTheRequestEndedIsNotReused() {
        var machine = connecting(hasBody: true)
        _ = machine.connected()
        _ = machine.upstreamHead(status: 200, keepAlive: true, budget: { true }, random: &random)
        #expect(machine.upstreamEnded() == .init(reuseUpstream: false, closeAfterWrite: true))
        machine = connecting(keepAlive: false)
        _ = machine.connected()
        _ = machine.receivedEnd()
        #expect(
            machine.upstreamHead(status: 200, keepAlive: false, budget: { true }, random: &random)
                == .forward(closeClient: true, idle: 7_000))
        #expect(machine.upstreamEnded() == .init(reuseUpstream: false, closeAfterWrite: false), "the head said close")
    }

    @Test mutating func interimAndSwitchingAnswers() {
        var machine = connecting()
        _ = machine.connected()
        #expect(machine.upstreamHead(status: 100, keepAlive: true, budget: { true }, random: &random) == .ignore)
        #expect(machine.upstreamHead(status: 101, keepAlive: true, budget: { true }, random: &random) == .broken)
    }

    @Test func expectContinueIsAnsweredByTheGatewayUnlessTheBodyIsIn() {
        var machine = Machine()
        machine.receivedHead(keepAlive: true, hasBody: true)
        machine.routed(Self.request(bufferSize: 0, expectsContinue: true))
        #expect(machine.gatesPassed() == .readBody(sendContinue: true))
        machine = Machine()
        machine.receivedHead(keepAlive: true, hasBody: true)
        machine.routed(Self.request(bufferSize: 0, expectsContinue: true))
        _ = machine.receivedEnd()
        #expect(machine.gatesPassed() == .connect(sendContinue: false))
    }
}
