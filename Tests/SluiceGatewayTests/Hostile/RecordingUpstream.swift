import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An upstream that records every request it parses, exactly as it came, and answers `200 ok`. Its parser is NIO's
/// without the gateway's guard, so a request smuggled inside another one shows up as a second request, and bytes
/// that are not a request at all are counted as garbage.
final class RecordingUpstream: Sendable {
    struct Request: Sendable {
        var method: String
        var uri: String
        var headers: [(name: String, value: String)]
        var body: [UInt8]

        func header(_ name: String) -> String? {
            headers.first { $0.name.lowercased() == name.lowercased() }?.value
        }
    }

    private struct Record {
        var requests: [Request] = []
        var garbage = 0
        var connections = 0
    }

    private let record: NIOLockedValueBox<Record>
    private let channel: any Channel

    var port: Int { channel.localAddress!.port! }

    /// The requests recorded so far, and how many times bytes could not be parsed.
    var requests: [Request] { record.withLockedValue { $0.requests } }
    var garbage: Int { record.withLockedValue { $0.garbage } }
    /// Connections accepted since the start.
    var connections: Int { record.withLockedValue { $0.connections } }

    func reset() {
        record.withLockedValue { record in
            record.requests.removeAll()
            record.garbage = 0
        }
    }

    private init(channel: any Channel, record: NIOLockedValueBox<Record>) {
        self.channel = channel
        self.record = record
    }

    /// `answerHeaders` are added to every answer (after `content-length`).
    static func start(answerHeaders: [(String, String)] = []) async throws -> RecordingUpstream {
        let record = NIOLockedValueBox(Record())
        let channel = try await startLoopbackServer { channel in
            record.withLockedValue { $0.connections += 1 }
            let operations = channel.pipeline.syncOperations
            try operations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
            try operations.addHandler(HTTPResponseEncoder())
            try operations.addHandler(Recorder(record: record, answerHeaders: answerHeaders))
        }
        return RecordingUpstream(channel: channel, record: record)
    }

    func stop() async { try? await channel.close() }

    private final class Recorder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        let record: NIOLockedValueBox<Record>
        let answerHeaders: [(String, String)]
        var current: Request?

        init(record: NIOLockedValueBox<Record>, answerHeaders: [(String, String)]) {
            self.record = record
            self.answerHeaders = answerHeaders
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let head):
                current = Request(
                    method: head.method.rawValue, uri: head.uri, headers: head.headers.map { ($0.name, $0.value) },
                    body: [])
            case .body(let buffer):
                current?.body.append(contentsOf: buffer.readableBytesView)
            case .end:
                guard let request = current else { return }
                current = nil
                let probe = request.uri.hasPrefix("/__probe")
                if !probe { record.withLockedValue { $0.requests.append(request) } }
                var headers = HTTPHeaders()
                headers.add(name: "content-length", value: "2")
                if probe { headers.add(name: "x-probe", value: "1") }
                for (name, value) in answerHeaders { headers.add(name: name, value: value) }
                context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: "ok")))), promise: nil)
                context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            }
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            // Bytes that are no request; a connection the gateway reset is none of the test's business.
            if error is HTTPParserError { record.withLockedValue { $0.garbage += 1 } }
            context.close(promise: nil)
        }
    }
}
