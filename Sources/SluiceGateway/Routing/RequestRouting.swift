import NIOHTTP1
import SluiceRouter
import SluiceServer

/// The normalise and route phases of a proxied request: the target as routed and forwarded (origin-form, its path
/// normalised as RFC 3986 §5.2.4 and §6.2.2 say and `PathNormalizer` is configured, the query as it came), then the
/// route for host, method and path. No channel: the head and the configuration in, a route or a refusal out.
enum RequestRouting {
    /// Why the gateway answers the request itself.
    enum Refusal: Equatable {
        /// `OPTIONS *` asks about the server itself (RFC 9110 §9.3.7): 200 with `Allow`.
        case serverOptions
        /// The path cannot be normalised (a bad escape, `..` above the root, an encoded slash refused): 400, and
        /// no second request on the connection, like nginx.
        case badPath(String)
        /// No route for the path: 404.
        case notFound
        /// Routes for the path, but not for the method: 405 with `Allow`.
        case methodNotAllowed(allowed: [String])
        /// `TRACE` on a route that does not list it: 405.
        case traceNotAllowed
    }

    enum Result {
        /// The route, the target to forward (origin-form, normalised), and the path's parameters.
        case routed(ProxyRoute, uri: String, params: Parameters)
        case refused(Refusal)
    }

    static func route(_ head: HTTPRequestHead, in state: RuntimeState) -> Result {
        var uri = head.uri
        var host = head.headers.first(name: "host")
        if uri.utf8.first != UInt8(ascii: "/") {
            if uri == "*" { return .refused(.serverOptions) }
            if host == nil { host = RequestHeadCheck.authority(of: uri) }
            uri = RequestHeadCheck.originForm(of: uri)
        }
        let query: Substring
        var path: Substring
        if let question = uri.utf8.firstIndex(of: UInt8(ascii: "?")) {
            path = uri[..<question]
            query = uri[question...]
        } else {
            path = uri[...]
            query = ""
        }
        do {
            if case .normalized(let normal) = try state.pathNormalizer.normalize(path) {
                uri = query.isEmpty ? normal : normal + query
                path = uri.prefix(normal.utf8.count)
            }
        } catch {
            return .refused(.badPath("\(error)"))
        }
        switch state.routes.lookup(host: host, method: head.method.rawValue, path: path) {
        case .found(let route, let params):
            if head.method == .TRACE && !route.allowsTrace { return .refused(.traceNotAllowed) }
            return .routed(route, uri: uri, params: params)
        case .methodNotAllowed(let allowed):
            return .refused(.methodNotAllowed(allowed: allowed))
        case .notFound, .redirect:
            return .refused(.notFound)
        }
    }
}
