import Logging
import NIOEmbedded
import SluiceConfig
import SluiceTraffic
import Testing

@testable import SluiceGateway

/// The gates' verdicts, without channels: each gate compiled from INI text, run with the time passed in.
@Suite struct RequestGatesTests {
    let stats = GatewayStats()
    let loop = EmbeddedEventLoop()

    /// The policies of route `r` (and upstream `u`) in `routeLines` / `upstreamLines`.
    func policies(_ routeLines: String, upstream upstreamLines: String = "") throws -> RequestGates.Policies {
        let config = try ConfigLoader.parse(
            """
            [server]
            listen = 127.0.0.1:0
            [upstream u]
            server = 127.0.0.1:1
            \(upstreamLines)
            [route r]
            match = /*
            upstream = u
            \(routeLines)
            """)
        let compiler = TrafficCompiler(group: loop, logger: Logger(label: "test"))
        let now = TrafficClock.now()
        return RequestGates.Policies(
            route: compiler.route(config.routes[0], global: nil, globalLimiter: nil, now: now), routeName: "r",
            upstream: compiler.upstream(config.upstreams[0], now: now), protection: nil, stats: stats,
            logger: Logger(label: "test"))
    }

    func fail(_ comment: Comment) { Issue.record(comment) }

    func run(
        _ gates: inout RequestGates, _ policies: RequestGates.Policies, headers: [String: String] = [:],
        ip: String = "10.0.0.1"
    ) -> RequestGates.Verdict {
        var random = SplitMix64Generator(state: 3)
        return gates.run(
            now: TrafficClock.now(), policies, header: { name in headers.first { $0.key.lowercased() == name.lowercased() }?.value }, clientIP: { ip }, random: &random)
    }

    @Test func aRouteLimitPassesThenRefusesWith429Fields() throws {
        let policies = try policies("rate_limit = 2/m burst=2")
        var verdicts: [String] = []
        for _ in 0..<3 {
            var gates = RequestGates()
            switch run(&gates, policies) {
            case .pass: verdicts.append("pass")
            case .refuse(.rateLimited(let fields)):
                verdicts.append("429")
                #expect(fields.contains { $0.name.lowercased() == "ratelimit-limit" && $0.value == "2" })
            default: verdicts.append("other")
            }
            #expect(gates.ticket.route != nil || verdicts.last == "429", "a passed request holds the route")
        }
        #expect(verdicts == ["pass", "pass", "429"])
        #expect(stats.rateLimited.load(ordering: .relaxed) == 1)
    }

    @Test func keyedLimitsCountPerKeyAndCapLongKeys() throws {
        let policies = try policies("rate_limit = 1/m key=header:X-Key")
        var first = RequestGates()
        var second = RequestGates()
        var other = RequestGates()
        guard case .pass = run(&first, policies, headers: ["X-Key": "a"]),
            case .refuse(.rateLimited) = run(&second, policies, headers: ["X-Key": "a"]),
            case .pass = run(&other, policies, headers: ["X-Key": "b"])
        else {
            Issue.record("keys are not counted apart")
            return
        }
        let long = String(repeating: "k", count: 1000)
        #expect(RequestGates.key(.header("X-Key"), header: { _ in long }, clientIP: { "" }).utf8.count == 256)
        #expect(RequestGates.key(.clientIP, header: { _ in nil }, clientIP: { "10.1.1.1" }) == "10.1.1.1")
    }

    @Test func shadowModeLetsEverythingThrough() throws {
        let policies = try policies("rate_limit = 1/m mode=shadow")
        for _ in 0..<3 {
            var gates = RequestGates()
            guard case .pass = run(&gates, policies) else {
                Issue.record("shadow mode refused")
                return
            }
        }
        #expect(stats.rateLimitedShadow.load(ordering: .relaxed) == 2)
    }

    @Test func pacingWaitsThenPassesWhereItStopped() throws {
        let policies = try policies("rate_limit = 1/s burst=1 pace=5s")
        var first = RequestGates()
        guard case .pass = run(&first, policies) else { return fail("the first request waited") }
        var gates = RequestGates()
        guard case .wait(let delay) = run(&gates, policies) else { return fail("no pacing") }
        #expect(delay > .zero && delay <= .seconds(1))
        #expect(gates.step == .protection)
        guard case .pass = run(&gates, policies) else { return fail("paced request refused after its wait") }
    }

    @Test func theManualSwitchDegradesTheRoute() throws {
        let policies = try policies("fallback = status=200 type=text/plain body=later")
        _ = policies.route?.manualSwitch.set(true)
        var gates = RequestGates()
        guard case .refuse(.degraded(let reason, let retryAfter)) = run(&gates, policies) else {
            return fail("the switch is ignored")
        }
        #expect(reason == .manual && retryAfter == .seconds(30))
    }

    @Test func faultsAbortOrDelayFromHeaders() throws {
        let policies = try policies("fault_header = on")
        var gates = RequestGates()
        guard case .refuse(.fault(503)) = run(&gates, policies, headers: ["sluice-fault-abort": "503"]) else {
            return fail("no abort")
        }
        gates = RequestGates()
        guard case .wait(let delay) = run(&gates, policies, headers: ["sluice-fault-delay": "20"]) else {
            return fail("no delay")
        }
        #expect(delay == .milliseconds(20))
        gates = RequestGates()
        guard case .pass = run(&gates, policies) else { return fail("no header, yet no pass") }
    }

    @Test func theUpstreamCapRefusesOverItsLimitAndTheTicketReleasesIt() throws {
        let policies = try policies("", upstream: "max_requests = 1")
        var first = RequestGates()
        guard case .pass = run(&first, policies) else { return fail("the first request was refused") }
        #expect(first.ticket.maxRequests != nil)
        var second = RequestGates()
        guard case .refuse(.overLimit(let message)) = run(&second, policies) else {
            return fail("over max_requests, yet passed")
        }
        #expect(message.contains("max_requests"))
        first.ticket.settle(.abandoned, now: TrafficClock.now(), stats: stats, logger: Logger(label: "test"))
        var third = RequestGates()
        guard case .pass = run(&third, policies) else { return fail("the settled slot was not given back") }
    }

    @Test func anOpenBreakerRefusesWithItsRetryAfter() throws {
        let policies = try policies("", upstream: "circuit_breaker = failure_rate=50% window=4 min_calls=2 open=10s")
        for _ in 0..<2 {
            var gates = RequestGates()
            guard case .pass = run(&gates, policies) else { return fail("a closed breaker refused") }
            gates.ticket.settle(
                .answered(status: 503, latency: .milliseconds(1)), now: TrafficClock.now(), stats: stats,
                logger: Logger(label: "test"))
        }
        var gates = RequestGates()
        guard case .refuse(.degraded(.breaker, let retryAfter)) = run(&gates, policies) else {
            return fail("the breaker did not open")
        }
        #expect(retryAfter > .zero && retryAfter <= .seconds(10))
    }
}
