import CAllocationCounter
import Foundation
import Logging
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// Heap allocations the API-gateway filters add to a proxied GET (counted on the gateway's loop, deterministic).
@Suite(.serialized, .disabled(if: sluice_allocations_sanitized() == 1, "a sanitizer owns malloc: no counter"))
struct FilterAllocationTests {
    /// A rewrite, request and response header rules, hide_header, CORS, allow and auth = api_key together: 66 more
    /// than the bare route in the debug build, measured 2026-12-05 (allow and a repeated API key are remembered per
    /// connection and cost nothing after the first request). The optimised build adds none: 21.3 mallocs per
    /// request with every filter, 21.6 bare (uprobe on malloc, `sluiced` release build, same day); the debug build
    /// counts the copies and closures the optimiser removes.
    static let filtersCeiling = 70.0

    func allocations(routeLines: String, count: Int = 500) async throws -> Double {
        let backends = try await startBackends(["a1"])
        let folder = try makeTemporaryDirectory("sluice-alloc")
        try "bench-key-0123456789abcdef bench\n".write(toFile: folder + "/keys", atomically: true, encoding: .utf8)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        var logger = Logger(label: "test.alloc")
        logger.logLevel = .critical
        let config = try ConfigLoader.parse("""
            [server]
            listen = 127.0.0.1:0
            access_log = off
            metrics = off

            [upstream backend]
            server = 127.0.0.1:\(backends[0].server.port!)

            [route all]
            match = /*
            upstream = backend
            \(routeLines.replacingOccurrences(of: "{dir}", with: folder))
            """, file: folder + "/sluice.ini")
        let gateway = try Gateway(config: config, group: group, logger: logger)
        try await gateway.start()
        let socket = try TestSocket(port: gateway.listeningAddresses.first!.port!)
        let request = "GET /ping HTTP/1.1\r\nHost: x\r\nX-API-Key: bench-key-0123456789abcdef\r\n\r\n"
        let perRequest = try await allocationsPerRequest(sending: request, on: socket, loop: group.next(), count: count)
        await gateway.shutdown()
        await gateway.closeUpstreams()
        for (_, server) in backends { await server.shutdown() }
        try await group.shutdownGracefully()
        try? FileManager.default.removeItem(atPath: folder)
        return perRequest
    }

    @Test func filtersStayUnderTheirAllocationCeiling() async throws {
        let bare = try await allocations(routeLines: "")
        let all = try await allocations(routeLines: """
            rewrite = ^/(.*)$ /$1
            request_header = set X-Request-Start $request_id
            request_header = add X-Client $client_ip
            response_header = set X-Route $route
            hide_header = X-Powered-By
            cors = origins=https://app.example methods=GET,POST
            allow = 127.0.0.0/8, ::1
            auth = api_key
            api_keys = {dir}/keys
            """)
        print("allocations per proxied GET: \(bare) bare, \(all) with every filter")
        for (name, lines) in [("rewrite", "rewrite = ^/(.*)$ /$1"),
                              ("headers", "request_header = set X-Request-Start $request_id\nrequest_header = add X-Client $client_ip"),
                              ("response", "response_header = set X-Route $route\nhide_header = X-Powered-By"),
                              ("cors", "cors = origins=https://app.example methods=GET,POST"),
                              ("allow", "allow = 127.0.0.0/8, ::1"),
                              ("api_key", "auth = api_key\napi_keys = {dir}/keys")] {
            print("  \(name): +\(try await allocations(routeLines: lines, count: 300) - bare)")
        }
        #expect(all - bare <= Self.filtersCeiling, "the filters add \(all - bare) allocations per request")
    }
}
