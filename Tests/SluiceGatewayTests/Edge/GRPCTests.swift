import Foundation
import Logging
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// gRPC through the gateway (h2c downstream, `protocol = h2` upstream), with Python's grpcio as server and client.
@Suite(.serialized) struct GRPCTests {
    static let script = PythonPeer.script("grpc_echo")

    private func gateway(grpcPort: Int, health: String = "") async throws -> Gateway {
        try await makeGateway(
            """
                [server]
                listen = 127.0.0.1:0 h2c
                access_log = off

                [upstream grpc]
                server = 127.0.0.1:\(grpcPort)
                protocol = h2
                \(health)

                [route grpc]
                match = /echo.Echo/*
                upstream = grpc
                """).0
    }

    private func client(_ arguments: [String]) async throws -> String {
        try await Command.run("/usr/bin/env", ["python3", Self.script] + arguments, timeout: .seconds(60)).stdout
    }

    @Test func unaryAndServerStreamingCallsKeepTheirTrailersAndStatuses() async throws {
        let server = try await PythonPeer(script: "grpc_echo", directory: try makeTemporaryDirectory("sluice-grpc"))
        defer { server.stop() }
        let gateway = try await gateway(grpcPort: server.port)
        let target = "127.0.0.1:\(gateway.listeningAddresses[0].port!)"
        let output = try await client(["client", target])
        #expect(output.contains("unary True yes OK"), "\(output)")
        #expect(output.contains("stream 5 True"))
        #expect(output.contains("fail NOT_FOUND no such thing"), "a trailers-only answer keeps its status")
        #expect(output.contains("unrouted UNIMPLEMENTED no route"), "the gateway's own 404 as a gRPC status")

        // The upstream gone: UNAVAILABLE, not an HTML page.
        server.stop()
        let down = try await client(["call", target, "/echo.Echo/Unary"])
        #expect(down.hasPrefix("call UNAVAILABLE"), "\(down)")
        await gateway.shutdown()
    }

    @Test func grpcHealthChecksFollowTheHealthService() async throws {
        let server = try await PythonPeer(script: "grpc_echo", directory: try makeTemporaryDirectory("sluice-grpc"))
        defer { server.stop() }
        let serving = try await gateway(
            grpcPort: server.port, health: "health_check = grpc echo.Echo interval=100ms rise=1 fall=1 initial=unhealthy")
        let up = try #require(serving.currentState.upstreams["grpc"]?.servers.first)
        for _ in 0..<300 where !up.health.isHealthy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(up.health.isHealthy)
        await serving.shutdown()

        let notServing = try await gateway(
            grpcPort: server.port, health: "health_check = grpc other.Service interval=100ms rise=1 fall=1")
        let down = try #require(notServing.currentState.upstreams["grpc"]?.servers.first)
        for _ in 0..<300 where down.health.isHealthy { try await Task.sleep(for: .milliseconds(20)) }
        #expect(!down.health.isHealthy)
        await notServing.shutdown()
    }

    @Test func grpcStatusMapping() {
        #expect(GRPCAnswer.status(forHTTP: 404) == 12)
        #expect(GRPCAnswer.status(forHTTP: 429) == 8)
        #expect(GRPCAnswer.status(forHTTP: 503) == 14)
        #expect(GRPCAnswer.status(forHTTP: 504) == 4)
        #expect(GRPCAnswer.message("no route\n") == "no route")
        #expect(GRPCAnswer.message("100% é") == "100%25 %C3%A9")
        #expect(GRPCHealthProbe.requestMessage(service: "a.B") == [0, 0, 0, 0, 5, 0x0A, 3, 0x61, 0x2E, 0x42])
        #expect(GRPCHealthProbe.isServing([0, 0, 0, 0, 2, 0x08, 0x01]))
        #expect(!GRPCHealthProbe.isServing([0, 0, 0, 0, 2, 0x08, 0x02]))
        #expect(!GRPCHealthProbe.isServing([0, 0, 0, 0, 0]))
    }
}
