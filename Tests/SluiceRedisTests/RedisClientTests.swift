import NIOCore
import NIOPosix
import SluiceRedis
import SluiceTestSupport
import Testing

extension AllRedisTests {
    @Suite("RedisClient against redis-server")
    struct RedisClientTests {
        /// Runs `body` with a fresh redis-server and a client connected to it; tears both down after.
        func withClient(_ body: (RedisClient, RedisServer) async throws -> Void) async throws {
            let server = try await RedisServer()
            defer { server.kill() }
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            do {
                let client = try await RedisClient.connect(host: "127.0.0.1", port: server.port, on: group.next()).get()
                do {
                    try await body(client, server)
                } catch {
                    try? await client.close().get()
                    throw error
                }
                try await client.close().get()
            } catch {
                try? await group.shutdownGracefully()
                throw error
            }
            try await group.shutdownGracefully()
        }

        @Test func setGetIncr() async throws {
            try await withClient { client, _ throws in
                #expect(try await client.send(["SET", "greeting", "h\u{e9}llo\r\nworld"]).get() == .simpleString("OK"))
                #expect(try await client.send(["GET", "greeting"]).get().string == "h\u{e9}llo\r\nworld")
                #expect(try await client.send(["GET", "missing"]).get() == .bulkString(nil))
                #expect(try await client.send(["INCR", "n"]).get() == .integer(1))
                #expect(try await client.send(["INCRBY", "n", "41"]).get() == .integer(42))
                #expect(try await client.send(["RPUSH", "list", "a", "b"]).get() == .integer(2))
                #expect(
                    try await client.send(["LRANGE", "list", "0", "-1"]).get()
                        == .array([.bulkString("a"), .bulkString("b")]))
            }
        }

        @Test func errorReplyFailsWithRedisErrorAndTheConnectionGoesOn() async throws {
            try await withClient { client, _ in
                let error = await #expect(throws: RedisError.self) {
                    try await client.send(["NOSUCHCOMMAND", "x"]).get()
                }
                #expect(error?.code == "ERR")
                #expect(error?.message.contains("unknown command") == true)
                _ = try await client.send(["SET", "s", "text"]).get()
                let wrongType = await #expect(throws: RedisError.self) { try await client.send(["INCR", "s"]).get() }
                #expect(wrongType?.code == "ERR")
                #expect(try await client.send(["PING"]).get() == .simpleString("PONG"))
            }
        }

        @Test func thousandPipelinedCommandsReplyInOrder() async throws {
            try await withClient { client, _ in
                // Sent back to back from off the event loop, without waiting for any reply.
                var futures: [EventLoopFuture<RESPValue>] = []
                for index in 0..<1000 {
                    futures.append(client.send(["INCR", "counter"]))
                    if index % 10 == 0 { futures.append(client.send(["SET", "k\(index)", "v\(index)"])) }
                }
                var expected = 1
                for future in futures {
                    let value = try await future.get()
                    if case .integer(let number) = value {
                        #expect(number == expected)
                        expected += 1
                    } else {
                        #expect(value == .simpleString("OK"))
                    }
                }
                #expect(expected == 1001)
                // Interleaved GETs come back matched to their own keys, also when sent from the event loop itself.
                let gets = try await client.eventLoop.submit {
                    (0..<100).map { client.send(["GET", "k\($0 * 10)"]) }
                }.get()
                for (index, future) in gets.enumerated() {
                    #expect(try await future.get().string == "v\(index * 10)")
                }
            }
        }

        @Test func connectionLossFailsEveryPendingCommand() async throws {
            try await withClient { client, server in
                // BLPOP on an empty list blocks, so everything pipelined behind it waits too.
                let blocked = client.send(["BLPOP", "nothing", "0"])
                let behind = (0..<20).map { _ in client.send(["PING"]) }
                try await Task.sleep(for: .milliseconds(50))
                server.kill()
                await #expect(throws: (any Error).self) { try await blocked.get() }
                for future in behind {
                    await #expect(throws: (any Error).self) { try await future.get() }
                }
                // And later commands fail at once.
                await #expect(throws: (any Error).self) { try await client.send(["PING"]).get() }
            }
        }

        @Test func connectRefusedFails() async throws {
            let port = try RedisServer.freePort()
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            await #expect(throws: (any Error).self) {
                try await RedisClient.connect(host: "127.0.0.1", port: port, on: group.next()).get()
            }
            try await group.shutdownGracefully()
        }
    }
}
