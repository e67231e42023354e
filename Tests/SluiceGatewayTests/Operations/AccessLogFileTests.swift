import Foundation
import SluiceTestSupport
import Testing

@testable import SluiceGateway
import SluiceServer

/// The access log through a running gateway: JSON and combined lines, the trace id, reopening after rotation.
@Suite(.serialized) struct AccessLogFileTests {
    static func lines(_ path: String, atLeast count: Int) async throws -> [String] {
        let deadline = ContinuousClock.now + .seconds(10)
        while true {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            let lines = text.split(separator: "\n").map(String.init)
            if lines.count >= count || ContinuousClock.now > deadline { return lines }
            try await Task.sleep(for: .milliseconds(50))
        }
    }

    @Test func jsonLinesCarryTheTraceAndReopenAfterRotation() async throws {
        let directory = try makeTemporaryDirectory("sluice-access")
        let path = directory + "/access.log"
        try await OperationsFixture.with(serverExtra: "access_log = \(path)\naccess_log_format = json") { fixture in
            let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
            let answer = try await fixture.get("/headers", headers: [("traceparent", incoming), ("user-agent", "t\"1")])
            #expect(answer.status == 200)
            let seen = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: String])
            let sent = try #require(seen["traceparent"])
            #expect(sent.hasPrefix("00-4bf92f3577b34da6a3ce929d0e0e4736-") && sent.hasSuffix("-01"))
            #expect(sent != incoming, "the gateway is a hop: its own parent id")
            #expect(!sent.contains(","), "the client's traceparent is replaced, not repeated")
            // Without one, a trace is started whose id is the request id.
            let fresh = try await fixture.get("/headers", headers: [("x-request-id", "0123456789abcdef0123456789abcdef")])
            let freshSeen = try #require(try JSONSerialization.jsonObject(with: Data(fresh.body)) as? [String: String])
            #expect(freshSeen["traceparent"]?.hasPrefix("00-0123456789abcdef0123456789abcdef-") == true)

            let lines = try await Self.lines(path, atLeast: 2)
            #expect(lines.count == 2)
            let entry = try #require(try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any])
            #expect(entry["method"] as? String == "GET" && entry["path"] as? String == "/headers")
            #expect(entry["status"] as? Int == 200 && entry["protocol"] as? String == "HTTP/1.1")
            #expect(entry["route"] as? String == "everything" && entry["zone"] as? String == "az1")
            #expect(entry["trace_id"] as? String == "4bf92f3577b34da6a3ce929d0e0e4736")
            #expect(entry["user_agent"] as? String == "t\"1")
            #expect((entry["request_id"] as? String)?.count == 32)
            #expect((entry["bytes_out"] as? Int ?? 0) > 0 && entry["bytes_in"] as? Int == 0)
            #expect(entry["upstream_duration"] is Double && entry["duration"] is Double)
            #expect(entry["gates"] as? [String] == [] && entry["retries"] as? Int == 0)
            #expect((entry["upstream_server"] as? String)?.hasPrefix("127.0.0.1:") == true)

            // logrotate: the file is moved, SIGUSR1 (here: the call it makes) reopens by name.
            #expect(rename(path, path + ".1") == 0)
            _ = try await fixture.get("/ping", headers: [("x-key", "late")])
            await fixture.gateway.accessLog.flush()  // what was handed over is written, to the moved file
            await fixture.gateway.reopenLogs()
            #expect(try await fixture.get("/api/v1/users/7", headers: [("x-key", "r")]).status == 200)
            let reopened = try await Self.lines(path, atLeast: 1)
            #expect(reopened.count == 1 && reopened[0].contains("\"path\":\"/api/v1/users/7\""))
            let rotated = try await Self.lines(path + ".1", atLeast: 3)
            #expect(rotated.count == 3)
        }
    }

    @Test func combinedLinesEndWithTheGatewaysFields() async throws {
        let directory = try makeTemporaryDirectory("sluice-access")
        let path = directory + "/access.log"
        try await OperationsFixture.with(serverExtra: "access_log = \(path)") { fixture in
            for _ in 0..<6 { _ = try await fixture.get("/api/v1/users/1", headers: [("x-key", "same")]) }
            let lines = try await Self.lines(path, atLeast: 6)
            #expect(lines.count == 6)
            // (Lines are written per event loop: their order across connections is not the requests' order.)
            let passed = lines.filter { $0.contains("\"GET /api/v1/users/1 HTTP/1.1\" 200 ") }
            #expect(passed.count == 5)
            #expect(passed.allSatisfy { $0.contains(" route=users upstream=127.0.0.1:") && $0.contains(" zone=az1 ") })
            #expect(passed.allSatisfy { $0.contains(#/\ trace_id=[0-9a-f]{32} gates=- retries=0$/#) })
            // The sixth is over the limit of 5: refused by the gate, no upstream.
            let refused = lines.filter { $0.contains("\" 429 ") }
            #expect(refused.count == 1)
            #expect(refused.first.map { $0.contains(" upstream=- ") && $0.hasSuffix("gates=limited retries=0") } == true)
        }
    }
}

/// W3C Trace Context, without sockets.
@Suite struct TraceContextTests {
    @Test func validHeadersParseAndInvalidOnesDoNot() throws {
        let valid = try #require(TraceContext.parse("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
        #expect(valid.traceID == "4bf92f3577b34da6a3ce929d0e0e4736" && valid.flags == "01")
        for bad in [
            "", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",  // short
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  // uppercase
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  // zero trace id
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  // zero parent id
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  // version ff
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",  // version 00 with more
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            #expect(TraceContext.parse(bad) == nil, "\(bad)")
        }
        // A later version is read by its version-00 prefix when what follows starts with "-".
        #expect(TraceContext.parse("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future") != nil)
    }

    @Test func theGatewaySendsItsOwnSpanInTheSameTrace() {
        let header = TraceContext.upstreamHeader(
            incoming: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", requestID: "x", spanID: 0xABC,
            newTraceID: { "never" })
        #expect(header == "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000abc-00")
        let started = TraceContext.upstreamHeader(
            incoming: nil, requestID: "0123456789abcdef0123456789abcdef", spanID: 1, newTraceID: { "never" })
        #expect(started == "00-0123456789abcdef0123456789abcdef-0000000000000001-01")
        let fromRandom = TraceContext.upstreamHeader(
            incoming: "garbage", requestID: "client-id", spanID: 2,
            newTraceID: { "fedcba9876543210fedcba9876543210" })
        #expect(fromRandom == "00-fedcba9876543210fedcba9876543210-0000000000000002-01")
        #expect(TraceContext.traceID(of: fromRandom) == "fedcba9876543210fedcba9876543210")
    }
}
