public import NIOCore
import NIOPosix

/// A DNS stub resolver over NIO: each query goes out on a fresh UDP socket (an ephemeral port) with a random id,
/// and only an answer from the nameserver asked, to that id and question, is taken (anything else is dropped, so a
/// spoofed packet cannot end the query); a truncated answer is asked again over TCP. Each attempt has `timeout`;
/// after one the next nameserver is tried, `attempts` rounds in all. Nothing blocks: usable from any thread.
public final class DNSClient: Sendable {
    public let nameservers: [SocketAddress]
    let group: any EventLoopGroup
    let timeout: TimeAmount
    let attempts: Int

    public init(nameservers: [SocketAddress], group: any EventLoopGroup, timeout: TimeAmount = .seconds(2), attempts: Int = 2) {
        self.nameservers = nameservers
        self.group = group
        self.timeout = timeout
        self.attempts = max(1, attempts)
    }

    /// Records of `type` for `name`.
    public func query(_ name: String, type: DNSRecordType) -> EventLoopFuture<DNSAnswer> {
        let loop = group.next()
        guard !nameservers.isEmpty else { return loop.makeFailedFuture(DNSError.timeout) }
        let promise = loop.makePromise(of: DNSAnswer.self)
        attempt(name, type, number: 0, on: loop, promise)
        return promise.futureResult
    }

    private func attempt(
        _ name: String, _ type: DNSRecordType, number: Int, on loop: any EventLoop, _ promise: EventLoopPromise<DNSAnswer>
    ) {
        let server = nameservers[number % nameservers.count]
        let id = UInt16.random(in: 0...UInt16.max)
        let query: [UInt8]
        do {
            query = try DNSMessage.query(id: id, name: name, type: type)
        } catch {
            return promise.fail(error)
        }
        udp(query, id: id, name: name, type: type, server: server, on: loop).flatMap { answer in
            answer.truncated
                ? self.tcp(query, id: id, name: name, type: type, server: server, on: loop) : loop.makeSucceededFuture(answer)
        }.whenComplete { result in
            switch result {
            case .success(let answer):
                promise.succeed(answer)
            case .failure(let error as DNSError) where error == .nameError || error == .noAnswer:
                promise.fail(error)
            case .failure(let error):
                if number + 1 < self.attempts * self.nameservers.count {
                    self.attempt(name, type, number: number + 1, on: loop, promise)
                } else {
                    promise.fail(error)
                }
            }
        }
    }

    private func udp(
        _ query: [UInt8], id: UInt16, name: String, type: DNSRecordType, server: SocketAddress, on loop: any EventLoop
    ) -> EventLoopFuture<DNSAnswer> {
        let promise = loop.makePromise(of: DNSAnswer.self)
        let timeout = self.timeout
        let bindHost = server.protocol == .inet6 ? "::" : "0.0.0.0"
        DatagramBootstrap(group: loop)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        UDPExchange(server: server, id: id, name: name, type: type, promise: promise))
                }
            }
            .bind(host: bindHost, port: 0)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    Self.bound(channel, to: promise, timeout: timeout)
                    var buffer = channel.allocator.buffer(capacity: query.count)
                    buffer.writeBytes(query)
                    channel.writeAndFlush(AddressedEnvelope(remoteAddress: server, data: buffer), promise: nil)
                }
            }
        return promise.futureResult
    }

    private func tcp(
        _ query: [UInt8], id: UInt16, name: String, type: DNSRecordType, server: SocketAddress, on loop: any EventLoop
    ) -> EventLoopFuture<DNSAnswer> {
        let promise = loop.makePromise(of: DNSAnswer.self)
        let timeout = self.timeout
        ClientBootstrap(group: loop)
            .connectTimeout(timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(
                        TCPExchange(id: id, name: name, type: type, promise: promise))
                }
            }
            .connect(to: server)
            .whenComplete { result in
                switch result {
                case .failure(let error):
                    promise.fail(error)
                case .success(let channel):
                    Self.bound(channel, to: promise, timeout: timeout)
                    var buffer = channel.allocator.buffer(capacity: query.count + 2)
                    buffer.writeInteger(UInt16(query.count))
                    buffer.writeBytes(query)
                    channel.writeAndFlush(buffer, promise: nil)
                }
            }
        return promise.futureResult
    }

    /// One attempt's socket lives as long as its answer: failed with `.timeout` after `timeout`, closed once done.
    private static func bound(_ channel: any Channel, to promise: EventLoopPromise<DNSAnswer>, timeout: TimeAmount) {
        let timer = channel.eventLoop.scheduleTask(in: timeout) { promise.fail(DNSError.timeout) }
        promise.futureResult.whenComplete { _ in
            timer.cancel()
            channel.close(promise: nil)
        }
    }

    /// A and AAAA records together (IPv4 first), the smallest TTL. An IP address answers itself. Fails only when
    /// both fail.
    public func resolveHost(_ name: String) -> EventLoopFuture<DNSAnswer> {
        let loop = group.next()
        if Self.isAddress(name) { return loop.makeSucceededFuture(DNSAnswer(addresses: [name])) }
        let v4 = query(name, type: .a).map { Optional($0) }
        let v6 = query(name, type: .aaaa).map { Optional($0) }.recover { _ in nil }
        return v4.flatMapError { error in
            v6.flatMapThrowing { answer -> DNSAnswer? in
                guard answer != nil else { throw error }
                return nil
            }
        }.and(v6).map { first, second in
            var merged = DNSAnswer()
            for answer in [first, second].compactMap({ $0 }) {
                merged.addresses += answer.addresses
                if let ttl = answer.ttl { merged.ttl = min(merged.ttl ?? ttl, ttl) }
            }
            return merged
        }
    }

    /// SRV records, each with its target's addresses (from the answer's additional records, else looked up).
    public func resolveService(_ name: String) -> EventLoopFuture<DNSAnswer> {
        let loop = group.next()
        return query(name, type: .srv).hop(to: loop).flatMap { answer in
            let lookups = answer.services.map { service -> EventLoopFuture<(DNSService, UInt32?)> in
                guard service.addresses.isEmpty else { return loop.makeSucceededFuture((service, nil)) }
                return self.resolveHost(service.target).map { host in
                    var resolved = service
                    resolved.addresses = host.addresses
                    return (resolved, host.ttl)
                }.recover { _ in (service, nil) }
            }
            return EventLoopFuture.whenAllSucceed(lookups, on: loop).map { results in
                var resolved = answer
                resolved.services = results.map(\.0)
                // The answer lasts as long as its shortest record, the targets' looked-up addresses included.
                for ttl in results.compactMap(\.1) { resolved.ttl = min(resolved.ttl ?? ttl, ttl) }
                return resolved
            }
        }
    }

    /// Whether `text` is an IPv4 or IPv6 address rather than a name.
    static func isAddress(_ text: String) -> Bool {
        (try? SocketAddress(ipAddress: text, port: 0)) != nil
    }
}

/// One UDP query's socket: takes the first proper answer from the server asked; drops everything else.
private final class UDPExchange: ChannelInboundHandler {
    typealias InboundIn = AddressedEnvelope<ByteBuffer>

    let server: SocketAddress
    let id: UInt16
    let name: String
    let type: DNSRecordType
    let promise: EventLoopPromise<DNSAnswer>

    init(server: SocketAddress, id: UInt16, name: String, type: DNSRecordType, promise: EventLoopPromise<DNSAnswer>) {
        self.server = server
        self.id = id
        self.name = name
        self.type = type
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let envelope = unwrapInboundIn(data)
        guard envelope.remoteAddress == server else { return }
        // Not an answer to this query (too short for a header, or another id): dropped, so that a forged datagram
        // cannot end the attempt without guessing the id.
        let data = envelope.data
        guard data.readableBytes >= 12, data.getInteger(at: data.readerIndex, as: UInt16.self) == id else { return }
        do {
            promise.succeed(try DNSMessage.parse(Array(envelope.data.readableBytesView), id: id, name: name, type: type))
        } catch .mismatched {
            return
        } catch {
            promise.fail(error)
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        // An ICMP port unreachable, for one: the attempt's timer or the next answer decides.
    }
}

/// One TCP query: a two-byte length, then the message.
private final class TCPExchange: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    let id: UInt16
    let name: String
    let type: DNSRecordType
    let promise: EventLoopPromise<DNSAnswer>
    var received: ByteBuffer?

    init(id: UInt16, name: String, type: DNSRecordType, promise: EventLoopPromise<DNSAnswer>) {
        self.id = id
        self.name = name
        self.type = type
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var bytes = unwrapInboundIn(data)
        if received == nil { received = bytes } else { received!.writeBuffer(&bytes) }
        guard let buffer = received, let length = buffer.getInteger(at: buffer.readerIndex, as: UInt16.self),
            buffer.readableBytes >= Int(length) + 2,
            let message = buffer.getBytes(at: buffer.readerIndex + 2, length: Int(length))
        else { return }
        do {
            let answer = try DNSMessage.parse(message, id: id, name: name, type: type)
            guard !answer.truncated else { throw DNSError.malformed("a truncated answer over TCP") }
            promise.succeed(answer)
        } catch {
            promise.fail(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        promise.fail(DNSError.malformed("the connection closed before the answer"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        promise.fail(error)
        context.close(promise: nil)
    }
}
