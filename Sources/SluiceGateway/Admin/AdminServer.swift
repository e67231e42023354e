import Logging
import NIOCore
import NIOHTTP1
import SluiceServer

/// The admin API on `[server] admin = 127.0.0.1:9901`, kept off the traffic listeners:
///
/// - `GET /`: the status page (HTML, refreshing itself from `/status`).
/// - `GET /status`: JSON: configuration, runtime health, counters, upstreams (servers, zones, health, ejection,
///   drain, breakers, in-flight, recent error rate, connections), routes (priority, limits, degrade state).
/// - `GET /metrics`: Prometheus text exposition (swift-prometheus).
/// - `GET /debug/state`: pools, connections, limiter tables, tunnels, as JSON, for leak hunting.
/// - `POST /degrade?route=NAME&state=on|off`: the manual degrade switch of a route (Sentinel's manual degrade);
///   `GET /degrade` lists the switches that are on.
/// - `POST /drain?upstream=NAME&server=HOST:PORT&state=on|off`: takes a server out of rotation by hand, or back.
/// - `POST /reload`: reloads the configuration file, as SIGHUP does.
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

    /// An answer now, or one that needs waiting for (a reload).
    enum Reply: Sendable {
        case now(Answer)
        case later(@Sendable () async -> Answer)
    }

    typealias Route = @Sendable (_ head: HTTPRequestHead) -> Reply

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
            switch route(head) {
            case .now(let answer):
                write(answer, for: head, context: context)
            case .later(let work):
                let loop = context.eventLoop
                let bound = NIOLoopBound((self, context), eventLoop: loop)
                Task {
                    let answer = await work()
                    loop.execute { bound.value.0.write(answer, for: head, context: bound.value.1) }
                }
            }
        }
    }

    private func write(_ answer: AdminServer.Answer, for head: HTTPRequestHead, context: ChannelHandlerContext) {
        var headers = HTTPHeaders()
        for (name, value) in answer.headers { headers.add(name: name, value: value) }
        headers.add(name: "content-type", value: answer.contentType)
        headers.add(name: "content-length", value: String(answer.body.utf8.count))
        headers.add(name: "cache-control", value: "no-store")
        headers.add(name: "x-content-type-options", value: "nosniff")
        if !head.isKeepAlive { headers.add(name: "connection", value: "close") }
        let response = HTTPResponseHead(version: head.version, status: answer.status, headers: headers)
        context.write(wrapOutboundOut(.head(response)), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: answer.body)))), promise: nil)
        }
        let keepAlive = head.isKeepAlive
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            if !keepAlive { context.close(promise: nil) }
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

/// `a=1&b=two` → the value of `name`, percent-decoded (`%3A` → `:`; `+` stays `+`). nil if absent or if its
/// escapes are not valid UTF-8.
func queryValue(_ name: String, in query: Substring) -> String? {
    for pair in query.split(separator: "&") {
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        if parts.first == Substring(name) { return parts.count > 1 ? percentDecoded(parts[1]) : "" }
    }
    return nil
}

/// `%XX` escapes decoded; a malformed escape is kept as it is.
func percentDecoded(_ text: Substring) -> String? {
    guard text.contains("%") else { return String(text) }
    var bytes: [UInt8] = []
    let utf8 = Array(text.utf8)
    var index = 0
    func hex(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
    while index < utf8.count {
        if utf8[index] == UInt8(ascii: "%"), index + 2 < utf8.count, let high = hex(utf8[index + 1]),
            let low = hex(utf8[index + 2])
        {
            bytes.append(high << 4 | low)
            index += 3
        } else {
            bytes.append(utf8[index])
            index += 1
        }
    }
    return String(validating: bytes, as: UTF8.self)
}
