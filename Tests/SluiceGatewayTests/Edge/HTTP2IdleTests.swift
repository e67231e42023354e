import Logging
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// An HTTP/2 connection that never opens a stream is closed after `keepalive_timeout`, like an idle HTTP/1.1 one
/// (NIO's connection manager is added after the preface, on a connection already active: it must still start its
/// idle timer).
@Suite(.serialized) struct HTTP2IdleTests {
    @Test func aConnectionWithoutStreamsIsClosedWhenIdle() async throws {
        try await expectClosed(keepalive: "1s", halfClose: false)
    }

    /// A client that shut its sending side (h2load at its end, for one) is not left in CLOSE_WAIT until the
    /// keep-alive timeout: the connection closes once its streams are done.
    @Test func aConnectionWhoseClientShutItsSideIsClosed() async throws {
        try await expectClosed(keepalive: "60s", halfClose: true)
    }

    private func expectClosed(keepalive: String, halfClose: Bool) async throws {
        let backends = try await startBackends(["idle"])
        var logger = Logger(label: "test.h2idle")
        logger.logLevel = .error
        let gateway = try Gateway(
            config: try ConfigLoader.parse("""
                [server]
                listen = 127.0.0.1:0 h2c
                keepalive_timeout = \(keepalive)
                access_log = off
                [upstream demo]
                server = 127.0.0.1:\(backends[0].server.port!)
                [route all]
                match = /*
                upstream = demo
                """), logger: logger)
        try await gateway.start()
        let socket = try TestSocket(port: gateway.port(h2c: true)!, timeout: 15)
        try await socket.send(H2Frame.preface + H2Frame.settings())
        if halfClose { socket.shutdownWrite() }
        let started = ContinuousClock.now
        #expect(try await socket.waitForClose(), "an HTTP/2 connection without streams stayed open")
        #expect(ContinuousClock.now - started < .seconds(10))
        await gateway.shutdown()
        await gateway.closeUpstreams()
        for (_, server) in backends { await server.shutdown() }
    }
}
