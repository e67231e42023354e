import Logging
import NIOCore
import NIOHTTP1
import SluiceServer

/// The admin API on `[server] admin = 127.0.0.1:9901`, kept off the traffic listeners:
///
/// - `GET /status`: JSON: generation, counters, upstreams (servers, health, breakers), routes (priority, degrade
///   state, limits), protection.
/// - `GET /metrics`: the counters in Prometheus' text format.
/// - `POST /degrade?route=NAME&state=on|off`: the manual degrade switch of a route (Sentinel's manual degrade);
///   `GET /degrade` lists the switches that are on.
///
/// Bodies are small and built in one piece; nothing here blocks an event loop.
final class AdminServer: Sendable {
    private let server: HTTPServer

    struct Answer: Sendable {
        var status: HTTPResponseStatus
        var contentType: String
        var body: String
        var headers: [(String, String)] = []

        static func json(_ body: String, status: HTTPResponseStatus = .ok) -> Answer {
            Answer(status: status, contentType: "application/json", body: body + "\n")
        }

        static func text(_ body: String, status: HTTPResponseStatus = .ok) -> Answer {
            Answer(status: status, contentType: "text/plain; charset=utf-8", body: body + "\n")
        }
    }

    typealias Route = @Sendable (_ head: HTTPRequestHead) -> Answer

    init(host: String, port: Int, group: any EventLoopGroup, logger: Logger, route: @escaping Route) {
        let configuration = ServerConfiguration(host: host, port: port, maxBodySize: 64 * 1024, serverName: "sluice-admin")
        server = HTTPServer(configuration: configuration, group: group, logger: logger) { channel in
            try channel.pipeline.syncOperations.addHandler(AdminHandler(route: route))
        }
    }

    @discardableResult
    func start() async throws -> SocketAddress {
        try await server.start()
    }

    var localAddress: SocketAddress? { server.localAddress }

    func shutdown() async {
        await server.shutdown(gracePeriod: .seconds(1))
    }
}

private final class AdminHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let route: AdminServer.Route
    private var head: HTTPRequestHead?

    init(route: @escaping AdminServer.Route) {
        self.route = route
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head): self.head = head
        case .body: break
        case .end:
            guard let head else { return }
            self.head = nil
            let answer = route(head)
            var headers = HTTPHeaders()
            for (name, value) in answer.headers { headers.add(name: name, value: value) }
            headers.add(name: "content-type", value: answer.contentType)
            headers.add(name: "content-length", value: String(answer.body.utf8.count))
            headers.add(name: "cache-control", value: "no-store")
            if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: answer.status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: answer.body)))), promise: nil)
            }
            let keepAlive = head.isKeepAlive
            context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
                if !keepAlive { context.close(promise: nil) }
            }
        }
    }
}

/// Builds JSON text by hand: the admin documents are small and flat.
struct JSONWriter {
    private(set) var text = ""

    static func quoted(_ value: String) -> String {
        var result = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": result += "\\\""
            case "\\": result += "\\\\"
            case "\n": result += "\\n"
            case "\r": result += "\\r"
            case "\t": result += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    result.unicodeScalars.append(scalar)
                }
            }
        }
        return result + "\""
    }

    /// `{"a": 1, ...}` from already-encoded values, in order.
    static func object(_ fields: [(String, String)]) -> String {
        "{" + fields.map { quoted($0.0) + ": " + $0.1 }.joined(separator: ", ") + "}"
    }

    static func array(_ items: [String]) -> String { "[" + items.joined(separator: ", ") + "]" }
}

/// `a=1&b=two` → the value of `name` (no percent-decoding needed for route names and on/off).
func queryValue(_ name: String, in query: Substring) -> String? {
    for pair in query.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.first == Substring(name) { return parts.count > 1 ? String(parts[1]) : "" }
    }
    return nil
}
