import NIOCore
import NIOEmbedded
import NIOPosix
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

    /// A pool and its connections hold each other strongly (no weak side table for LeakSanitizer to misread); the
    /// links are cut when the pool retires a connection or the connection's channel goes away. Both go once the
    /// pool is closed, whether the connection was idle in it or busy when it closed.
    @Test func aClosedPoolAndItsConnectionsAreFreed() async throws {
        final class Probe: @unchecked Sendable {  // touched on the loop, read after it is done
            weak var pool: ConnectionPool?
            weak var idle: UpstreamConnection?
            weak var busy: UpstreamConnection?
            var idleLetGo = false
            var busyKeptPool = false
            var busyLetGo = false
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let listener = try await ServerBootstrap(group: group).bind(host: "127.0.0.1", port: 0).get()
        let port = listener.localAddress!.port!
        let loop = group.next()
        let probe = Probe()
        let done = loop.makePromise(of: [EventLoopFuture<Void>].self)
        loop.execute {
            let pool = ConnectionPool(
                eventLoop: loop, target: UpstreamTarget(host: "127.0.0.1", port: port), settings: PoolSettings())
            probe.pool = pool
            var got: [UpstreamConnection] = []
            let callback: ConnectionPool.Callback = { result in
                switch result {
                case .success(let connection): got.append(connection)
                case .failure(let error): return done.fail(error)
                }
                guard got.count == 2 else { return }
                let (idle, busy) = (got[0], got[1])
                probe.idle = idle
                probe.busy = busy
                pool.release(idle, reusable: true)  // idle in the pool
                pool.close()  // the idle one closes now; the busy one stays with its exchange
                probe.idleLetGo = idle.pool == nil
                probe.busyKeptPool = busy.pool === pool
                pool.release(busy, reusable: true)  // back to a closed pool: retired
                probe.busyLetGo = busy.pool == nil
                done.succeed(got.compactMap { $0.context?.channel.closeFuture })
            }
            pool.acquire(callback)
            pool.acquire(callback)
        }
        for closed in try await done.futureResult.get() { try await closed.get() }
        try await loop.submit {}.get()  // handlers are removed after the close futures fire
        #expect(probe.idleLetGo && probe.busyKeptPool && probe.busyLetGo)
        #expect(probe.pool == nil, "the pool outlived its close")
        #expect(probe.idle == nil, "an idle connection outlived its pool's close")
        #expect(probe.busy == nil, "a busy connection outlived its release to a closed pool")
        try await listener.close()
        try await group.shutdownGracefully()
    }
}
