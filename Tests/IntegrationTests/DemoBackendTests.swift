import NIOCore
import NIOPosix
import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

private struct User: Decodable {
    let id: String
    let name: String
    let instance: String
    let zone: String
}

/// The demo backend, in-process on an ephemeral port, driven over real sockets.
@Suite struct DemoBackendTests {
    func withDemo(_ configuration: DemoBackend.Configuration, _ body: (DemoBackend, Int) async throws -> Void) async throws {
        let backend = DemoBackend(configuration: configuration)
        let server = try await backend.start()
        do {
            try await body(backend, server.port!)
        } catch {
            await server.shutdown()
            throw error
        }
        await server.shutdown()
    }

    @Test func pingUsersAndHealth() async throws {
        try await withDemo(.init(zone: "az2", name: "b7", quiet: true)) { _, port in
            let ping = try await TestHTTP.request(port: port, "GET", "/ping")
            #expect(ping.status == 200)
            #expect(ping.text == #"{"message":"pong"}"#)
            let user = try JSONDecoder().decode(User.self, from: Data(try await TestHTTP.request(port: port, "GET", "/api/v1/users/42").body))
            #expect(user.id == "42")
            #expect(user.name == "user-42")
            #expect(user.instance == "b7")
            #expect(user.zone == "az2")
            #expect(try await TestHTTP.request(port: port, "GET", "/healthz").status == 200)
        }
    }

    @Test func healthCanBeFlippedByTheAdminEndpoint() async throws {
        try await withDemo(.init(quiet: true)) { backend, port throws in
            #expect(try await TestHTTP.request(port: port, "POST", "/admin/healthz?state=fail").status == 200)
            #expect(!backend.isHealthy)
            #expect(try await TestHTTP.request(port: port, "GET", "/healthz").status == 503)
            #expect(try await TestHTTP.request(port: port, "GET", "/ping").status == 200, "only /healthz fails")
            #expect(try await TestHTTP.request(port: port, "POST", "/admin/healthz?state=maybe").status == 400)
            #expect(try await TestHTTP.request(port: port, "POST", "/admin/healthz?state=ok").status == 200)
            #expect(try await TestHTTP.request(port: port, "GET", "/healthz").status == 200)
        }
    }

    @Test func perRequestFaultKnobs() async throws {
        try await withDemo(.init(quiet: true)) { _, port in
            let failed = try await TestHTTP.request(port: port, "GET", "/api/v1/users/1?status=503")
            #expect(failed.status == 503)
            #expect(try await TestHTTP.request(port: port, "GET", "/ping?status=9999").status == 400)
            #expect(try await TestHTTP.request(port: port, "GET", "/ping?delay=forever").status == 400)
            let start = NIODeadline.now()
            let slow = try await TestHTTP.request(port: port, "GET", "/ping?delay=150ms")
            #expect(slow.status == 200)
            #expect(NIODeadline.now() - start >= .milliseconds(150), "the answer cannot come before the delay ends")
        }
    }

    @Test func delayedAnswersDoNotBlockOthers() async throws {
        // One event loop: a delayed answer must not hold the loop (it is a timer, not a sleep).
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let backend = DemoBackend(configuration: .init(quiet: true))
        let server = try await backend.start(group: group)
        let port = server.port!
        let slow = try TestSocket(port: port)
        try await slow.send("GET /ping?delay=2s HTTP/1.1\r\nHost: x\r\n\r\n")
        let fast = try TestSocket(port: port, timeout: 1.5)
        try await fast.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(try await fast.readResponse().status == 200, "answered while the other request waits")
        #expect(try await slow.readResponse().status == 200)
        await server.shutdown()
        try await group.shutdownGracefully()
    }

    @Test func instanceFailRateFailsAboutThatShare() async throws {
        try await withDemo(.init(failRate: 0.5, quiet: true)) { _, port in
            let socket = try TestSocket(port: port)
            var failures = 0
            for _ in 0..<400 {
                try await socket.send("GET /ping HTTP/1.1\r\nHost: x\r\n\r\n")
                if try await socket.readResponse().status == 503 { failures += 1 }
            }
            // Binomial(400, 0.5): 6 standard deviations either side.
            #expect((140...260).contains(failures), "\(failures) of 400 failed")
            #expect(try await TestHTTP.request(port: port, "GET", "/healthz").status == 200, "health is exempt")
        }
    }
}
