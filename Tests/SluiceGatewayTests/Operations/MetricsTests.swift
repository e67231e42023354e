import Foundation
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// `/metrics` after known traffic: the numbers move as they must, names and label sets follow Prometheus
/// conventions and stay bounded by configuration.
@Suite(.serialized) struct MetricsTests {
    func scrape(_ fixture: OperationsFixture) async throws -> (Exposition, String) {
        let response = try await fixture.admin("/metrics")
        #expect(response.status == 200)
        #expect(response.header("content-type")?.hasPrefix("text/plain; version=0.0.4") == true)
        return (Exposition(response.text), response.text)
    }

    @Test func requestsDurationsAndRateLimitsMoveWithKnownTraffic() async throws {
        try await OperationsFixture.with() { fixture in
            let (before, _) = try await scrape(fixture)
            for id in 0..<5 { #expect(try await fixture.get("/api/v1/users/\(id)", headers: [("x-key", "a")]).status == 200) }
            // Over the limit for key b: 5 allowed (burst), then 429s.
            var limited = 0
            for id in 0..<8 where try await fixture.get("/api/v1/users/\(id)", headers: [("x-key", "b")]).status == 429 {
                limited += 1
            }
            #expect(limited >= 3)
            for _ in 0..<4 { #expect(try await fixture.get("/ping").status == 200) }
            #expect(try await fixture.get("/ping?status=503").status == 503)

            let (after, text) = try await scrape(fixture)
            func delta(_ name: String, _ labels: [String: String]) -> Double {
                (after.value(name, labels) ?? 0) - (before.value(name, labels) ?? 0)
            }
            let users = ["route": "users", "method": "GET"]
            #expect(delta("sluice_requests_total", users.merging(["code": "2xx"]) { $1 }) == Double(13 - limited))
            #expect(delta("sluice_requests_total", users.merging(["code": "4xx"]) { $1 }) == Double(limited))
            #expect(delta("sluice_requests_total", ["route": "everything", "code": "2xx"]) == 4)
            #expect(delta("sluice_requests_total", ["route": "everything", "code": "5xx"]) == 1)
            // The histogram counts every request of the route, and its buckets are cumulative up to +Inf.
            #expect(delta("sluice_request_duration_seconds_count", ["route": "users"]) == 13)
            #expect(delta("sluice_request_duration_seconds_bucket", ["route": "users", "le": "+Inf"]) == 13)
            let fast = after.value("sluice_request_duration_seconds_bucket", ["route": "users", "le": "0.001"]) ?? 0
            let slow = after.value("sluice_request_duration_seconds_bucket", ["route": "users", "le": "10.0"]) ?? 0
            #expect(fast <= slow)
            #expect(delta("sluice_rate_limit_decisions_total", ["route": "users", "outcome": "limited"]) == Double(limited))
            #expect(delta("sluice_rate_limit_decisions_total", ["route": "users", "outcome": "allowed"]) == Double(13 - limited))
            // Upstream durations by upstream and zone: every proxied answer (the 429s never went upstream).
            let upstream = delta("sluice_upstream_request_duration_seconds_count", ["upstream": "demo"])
            #expect(upstream >= Double(13 - limited + 5), "retries may add tries, never remove them")
            // Conventions: HELP and TYPE for the families, counters end in _total, durations in _seconds.
            #expect(after.help.contains("sluice_requests_total") && after.types["sluice_requests_total"] == "counter")
            #expect(after.types["sluice_request_duration_seconds"] == "histogram")
            #expect(after.types["sluice_upstream_server_healthy"] == "gauge")
            // Bounded labels: no raw path, client address or header value.
            #expect(!text.contains("/api/v1/users/3") && !text.contains("x-key") && !text.contains("\"b\""))
        }
    }

    @Test func stateGaugesAndTheConfigurationAreExposed() async throws {
        try await OperationsFixture.with() { fixture in
            for _ in 0..<3 { _ = try await fixture.get("/ping") }
            let (metrics, _) = try await scrape(fixture)
            let a1 = "127.0.0.1:\(fixture.backends[0].server.port!)"
            #expect(metrics.value("sluice_upstream_server_healthy", ["server": a1, "zone": "az1"]) == 1)
            #expect(metrics.value("sluice_upstream_server_ejected", ["server": a1]) == 0)
            #expect(metrics.value("sluice_circuit_breaker_state", ["owner": "upstream", "name": "demo", "state": "closed"]) == 1)
            #expect(metrics.value("sluice_circuit_breaker_state", ["owner": "upstream", "name": "demo", "state": "open"]) == 0)
            #expect((metrics.value("sluice_upstream_connections_open", ["upstream": "demo"]) ?? 0) >= 1)
            #expect((metrics.value("sluice_process_resident_memory_bytes") ?? 0) > 1_000_000)
            #expect((metrics.value("sluice_process_open_fds") ?? 0) > 3)
            #expect((metrics.value("sluice_process_max_fds") ?? 0) >= (metrics.value("sluice_process_open_fds") ?? 0))
            #expect(metrics.value("sluice_event_loop_lag_seconds") != nil)
            #expect(metrics.value("sluice_build_info", ["version": Sluice.version]) == 1)
            #expect(metrics.value("sluice_config_generation") == 1)
            let hash = fixture.gateway.configIdentity.hash
            #expect(metrics.value("sluice_config_info", ["hash": hash]) == 1)

            // A reload: counted, the new hash replaces the old one, generation 2.
            var config = fixture.gateway.config
            config.routes.removeAll { $0.name == "users" }
            try await fixture.gateway.apply(config)
            fixture.gateway.reloadFailed()
            let (reloaded, _) = try await scrape(fixture)
            #expect(reloaded.value("sluice_config_reloads_total", ["result": "success"]) == 1)
            #expect(reloaded.value("sluice_config_reloads_total", ["result": "failure"]) == 1)
            #expect(reloaded.value("sluice_config_last_reload_successful") == 0)
            #expect(reloaded.value("sluice_config_generation") == 2)
            #expect(reloaded.value("sluice_config_info", ["hash": hash]) == nil)
            #expect(reloaded.value("sluice_config_info", ["hash": fixture.gateway.configIdentity.hash]) == 1)
        }
    }
}

/// The decisions behind the numbers, without sockets.
@Suite struct MetricValueTests {
    @Test func recentErrorRateLooksBackOverItsWindow() {
        var rate = RecentErrorRate(window: .seconds(30))
        #expect(rate.rate(answered: 10, failed: 0) == nil)
        rate.add(.init(at: .seconds(0), answered: 0, failed: 0))
        #expect(rate.rate(answered: 0, failed: 0) == nil, "no tries: no rate")
        rate.add(.init(at: .seconds(10), answered: 90, failed: 10))
        #expect(rate.rate(answered: 90, failed: 10) == 0.1)
        // 40 s later the first sample is out of the window: only what happened since the 10 s sample counts.
        rate.add(.init(at: .seconds(40), answered: 100, failed: 10))
        rate.add(.init(at: .seconds(45), answered: 100, failed: 20))
        #expect(rate.samples.first?.at == .seconds(10))
        #expect(rate.rate(answered: 100, failed: 20) == 10.0 / 20.0)
    }

    @Test func gateMarksNameWhatTheGatesDid() {
        #expect(GateMarks().text == "-")
        #expect(GateMarks([.limited, .degraded]).text == "limited,degraded")
        #expect(GateMarks([.shadow, .paced]).rateLimitOutcome == .shadow)
        #expect(GateMarks([.paced]).rateLimitOutcome == .paced)
        #expect(GateMarks().rateLimitOutcome == .allowed)
    }

    @Test func methodsOutsideTheKnownSetShareOneLabel() {
        #expect(RouteMetrics.index(of: .GET) == 0)
        #expect(RouteMetrics.index(of: .RAW(value: "PROPFIND")) == RouteMetrics.methods.count)
    }

    @Test func processStatsSeeDescriptorsOpenAndClose() {
        // 50 at once, so that what other tests open or close meanwhile cannot hide them.
        let before = ProcessStats.openDescriptors()
        let descriptors = (0..<50).map { _ in open("/dev/null", O_RDONLY) }
        let during = ProcessStats.openDescriptors()
        for descriptor in descriptors { close(descriptor) }
        let after = ProcessStats.openDescriptors()
        #expect(descriptors.allSatisfy { $0 >= 0 })
        #expect(during >= before + 45 && after <= during - 45, "\(before) → \(during) → \(after)")
        #expect(ProcessStats.residentBytes() > 0)
        #expect(ProcessStats.maxDescriptors() > during)
    }

    @Test func queryValuesArePercentDecoded() {
        #expect(queryValue("server", in: "upstream=demo&server=127.0.0.1%3A8081") == "127.0.0.1:8081")
        #expect(queryValue("server", in: "server=%5B%3A%3A1%5D%3A80") == "[::1]:80")
        #expect(queryValue("server", in: "server=50%") == "50%")
        #expect(queryValue("server", in: "server=%FF") == nil)
    }
}
