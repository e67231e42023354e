import NIOCore
import NIOHTTP1

/// A plain listener with `redirect_https`: every request is answered `308 Permanent Redirect` to the same host and
/// target over https (308 keeps the method and body, RFC 9110 §15.4.9), on the port of the first `tls` listener
/// (left out when it is 443). Requests without a usable `Host` get 400.
final class HTTPSRedirectHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let httpsPort: Int

    init(httpsPort: Int) { self.httpsPort = httpsPort }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        var headers = HTTPHeaders([("content-length", "0")])
        let status: HTTPResponseStatus
        if let location = Self.location(host: head.headers.first(name: "host"), target: head.uri, port: httpsPort) {
            status = .permanentRedirect
            headers.add(name: "location", value: location)
        } else {
            status = .badRequest
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                      promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }

    /// `https://HOST[:PORT]TARGET`: the host without its port, the target as sent (origin-form; an absolute-form
    /// target gives its path). Nil for a host that is not a plain name or address.
    static func location(host: String?, target: String, port: Int) -> String? {
        guard var host, !host.isEmpty else { return nil }
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return nil }
            host = String(host[...close])
        } else if let colon = host.firstIndex(of: ":") {
            host = String(host[..<colon])
        }
        guard host.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "@") })
        else { return nil }
        var path = target
        if !path.hasPrefix("/"), let scheme = path.range(of: "://") {
            let rest = path[scheme.upperBound...]
            path = rest.firstIndex(of: "/").map { String(rest[$0...]) } ?? "/"
        }
        if !path.hasPrefix("/") { path = "/" }
        return "https://" + host + (port == 443 ? "" : ":\(port)") + path
    }
}
