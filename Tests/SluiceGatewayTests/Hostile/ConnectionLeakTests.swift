import NIOCore
import NIOEmbedded
import SluiceServer
import Testing

@testable import SluiceGateway

/// A connection's handlers are freed with it: a handler that kept its context would hold the pipeline, and with it
/// the configuration it last served, forever (found by the FuzzGateway target under LeakSanitizer).
@Suite struct ConnectionLeakTests {
    @Test func aClientConnectionsProxyHandlerIsFreedWithIt() async throws {
        let gateway = try await TestGateway(backends: [1])
        weak var weakHandler: ProxyHandler?
        do {
            let channel = EmbeddedChannel()
            try HTTPServer.configureHTTP(channel: channel, configuration: ServerConfiguration())
            let handler = ProxyHandler(shared: gateway.shared)
            weakHandler = handler
            try channel.pipeline.syncOperations.addHandler(handler)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
            try channel.writeInbound(ByteBuffer(string: "GET /x HTTP/1.1\r\nHost: only.example\r\n\r\n"))
            #expect(try channel.readOutbound(as: ByteBuffer.self).map { String(buffer: $0) }?.hasPrefix("HTTP/1.1 404") == true)
            _ = try channel.finish(acceptAlreadyClosed: true)
            channel.embeddedEventLoop.run()
        }
        #expect(weakHandler == nil, "the ProxyHandler outlived its channel")
        await gateway.stop()
    }

    @Test func anUpstreamConnectionIsFreedWithItsChannel() async throws {
        weak var weakConnection: UpstreamConnection?
        do {
            let channel = EmbeddedChannel()
            let connection = UpstreamConnection()
            weakConnection = connection
            try channel.pipeline.syncOperations.addHandler(connection)
            try await channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).get()
            _ = try channel.finish(acceptAlreadyClosed: true)
            channel.embeddedEventLoop.run()
        }
        #expect(weakConnection == nil, "the UpstreamConnection outlived its channel")
    }
}
