import NIOCore
import NIOHTTP1
import NIOHTTP2
import NIOPosix

/// One probe of the standard gRPC health service (`grpc.health.v1.Health/Check`, `health_check = grpc SERVICE`):
/// a new HTTP/2 connection (with the upstream's TLS), one call, then closed. The outcome is 200 when the server
/// answered `grpc-status: 0` with status SERVING, 503 for any other answer, nil for none.
enum GRPCHealthProbe {
    static func run(
        target: UpstreamTarget, service: String, tls: UpstreamTLS?, timeout: TimeAmount, eventLoop: any EventLoop,
        outcome: ProbeOutcome
    ) {
        let bootstrap = target.bootstrap(on: eventLoop, timeout: timeout, tls: tls) { channel in
            try channel.pipeline.syncOperations.addHandler(
                NIOHTTP2Handler(mode: .client, eventLoop: channel.eventLoop) { $0.close() })
        }
        target.connect(bootstrap).whenComplete { result in
            guard case .success(let channel) = result else { return outcome.complete(nil) }
            let deadline = channel.eventLoop.scheduleTask(in: timeout) { outcome.complete(nil) }
            outcome.promise.futureResult.whenComplete { _ in
                deadline.cancel()
                channel.close(promise: nil)
            }
            channel.eventLoop.execute {
                do {
                    let multiplexer = try channel.pipeline.syncOperations.handler(type: NIOHTTP2Handler.self)
                        .syncMultiplexer()
                    multiplexer.createStreamChannel(promise: nil) { stream in
                        stream.eventLoop.makeCompletedFuture {
                            try stream.pipeline.syncOperations.addHandler(
                                HTTP2FramePayloadToHTTP1ClientCodec(httpProtocol: tls == nil ? .http : .https))
                            try stream.pipeline.syncOperations.addHandler(
                                Call(service: service, authority: target.description, outcome: outcome))
                        }
                    }
                } catch {
                    outcome.complete(nil)
                }
            }
        }
    }

    /// The request message: `HealthCheckRequest { string service = 1; }`, length-prefixed.
    static func requestMessage(service: String) -> [UInt8] {
        let bytes = Array(service.utf8)
        let message: [UInt8] = bytes.isEmpty ? [] : [0x0A] + varint(bytes.count) + bytes
        let length = UInt32(message.count)
        return [0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + message
    }

    /// Whether a length-prefixed `HealthCheckResponse` says SERVING (`status = 1`, field 1, varint).
    static func isServing(_ body: [UInt8]) -> Bool {
        guard body.count >= 5, body[0] == 0 else { return false }
        let message = body[5...]
        var index = message.startIndex
        while index < message.endIndex {
            let tag = message[index]
            index += 1
            guard tag & 0x7 == 0, index < message.endIndex else { return false }  // only varint fields expected
            var value = 0
            var shift = 0
            while index < message.endIndex {
                let byte = message[index]
                index += 1
                value |= Int(byte & 0x7F) << shift
                shift += 7
                if byte & 0x80 == 0 { break }
            }
            if tag >> 3 == 1 { return value == 1 }
        }
        return false  // status absent: UNKNOWN (0)
    }

    private static func varint(_ value: Int) -> [UInt8] {
        var value = value
        var bytes: [UInt8] = []
        repeat {
            var byte = UInt8(value & 0x7F)
            value >>= 7
            if value > 0 { byte |= 0x80 }
            bytes.append(byte)
        } while value > 0
        return bytes
    }

    private final class Call: ChannelInboundHandler {
        typealias InboundIn = HTTPClientResponsePart
        typealias OutboundOut = HTTPClientRequestPart

        private let service: String
        private let authority: String
        private let outcome: ProbeOutcome
        private var body: [UInt8] = []
        private var headStatus: String?

        init(service: String, authority: String, outcome: ProbeOutcome) {
            self.service = service
            self.authority = authority
            self.outcome = outcome
        }

        func channelActive(context: ChannelHandlerContext) {
            let headers = HTTPHeaders([
                ("host", authority), ("content-type", "application/grpc"), ("te", "trailers"),
                ("user-agent", "sluice-health-check"),
            ])
            let head = HTTPRequestHead(
                version: .http1_1, method: .POST, uri: "/grpc.health.v1.Health/Check", headers: headers)
            context.write(wrapOutboundOut(.head(head)), promise: nil)
            let message = GRPCHealthProbe.requestMessage(service: service)
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: message)))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            context.fireChannelActive()
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                guard head.status == .ok else { return outcome.complete(503) }
                headStatus = head.headers.first(name: "grpc-status")  // a trailers-only answer
            case .body(let buffer):
                if body.count < 1024 { body += buffer.readableBytesView }
            case .end(let trailers):
                let status = trailers?.first(name: "grpc-status") ?? headStatus
                outcome.complete(status == "0" && GRPCHealthProbe.isServing(body) ? 200 : 503)
            }
        }

        func channelInactive(context: ChannelHandlerContext) { outcome.complete(nil) }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            outcome.complete(nil)
            context.close(promise: nil)
        }
    }
}
