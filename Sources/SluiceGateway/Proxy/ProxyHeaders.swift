import NIOHTTP1
import SluiceServer

/// The header rewriting a forwarding proxy owes both sides (RFC 9110 §7.6): hop-by-hop fields end here, the
/// upstream learns who the client was, and both learn a proxy was in between.
enum ProxyHeaders {
    /// The request head to send upstream, made from the client's in one pass.
    ///
    /// - Hop-by-hop fields go (`Connection` and the fields it names, `Keep-Alive`, `TE`, `Trailer`,
    ///   `Transfer-Encoding`, `Upgrade`, `HTTP2-Settings`, `Proxy-*`), but `Connection` can never name away a field
    ///   the gateway relies on (`Host`, framing, forwarding fields): such tokens are ignored.
    /// - Framing is the gateway's own: the client's `Content-Length` never passes; the body that will be forwarded
    ///   gets `Content-Length` or `chunked` from what was parsed (and `Content-Length: 0` for a bodiless
    ///   POST/PUT/PATCH).
    /// - Forwarding fields: from a peer in `trusted_proxies`, `X-Forwarded-For` and `Forwarded` are extended with the
    ///   peer and `X-Forwarded-Proto`, `X-Forwarded-Host` and `X-Real-IP` kept; from any other peer all five are
    ///   replaced by the gateway's own. `Via` gets `1.1 sluice`; `X-Request-Id` is kept when reasonable or made.
    /// - `Host` is the client's unless the route rewrites it; `uri` is the normalised target.
    /// What the hop-by-hop fields of a request asked for, noted while they are dropped.
    struct HopFacts {
        /// `TE: trailers`: the client takes trailers (gRPC).
        var trailers = false
        /// `Upgrade: websocket` with `Connection: upgrade` on a GET: a WebSocket opening handshake (RFC 6455 §4.1).
        var webSocket = false
    }

    static func upstreamRequest(
        _ head: HTTPRequestHead, uri: String, framing: BodyFraming, clientAddress: String?, trustedPeer: Bool,
        scheme: String, requestID: String, hostRewrite: String?, traceparent: String? = nil, hops: inout HopFacts,
        extraCapacity: Int = 0
    ) -> HTTPRequestHead {
        let named = connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 8 + extraCapacity)
        var forwardedFor: String?
        var forwarded: String?
        var via: String?
        var host: String?
        var forwardedProto: String?
        var forwardedHost: String?
        var realIP: String?
        for (name, value) in head.headers {
            if isHopByHop(name) || (!named.isEmpty && named.contains(name.lowercased())) {
                switch name.utf8.count {
                case 2 where name.caseInsensitiveEquals("te"):
                    if value.lowercased().contains("trailers") { hops.trailers = true }
                case 7 where name.caseInsensitiveEquals("upgrade"):
                    if head.method == .GET && head.version.minor >= 1 && value.lowercased() == "websocket"
                        && RequestHeadCheck.asksForUpgrade(head.headers)
                    {
                        hops.webSocket = true
                    }
                default: break
                }
                continue
            }
            switch name.utf8.count {
            case 4 where name.caseInsensitiveEquals("host"):
                host = value
                continue
            case 3 where name.caseInsensitiveEquals("via"):
                via = via.map { "\($0), \(value)" } ?? value
                continue
            case 15 where name.caseInsensitiveEquals("x-forwarded-for"):
                forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
                continue
            case 9 where name.caseInsensitiveEquals("forwarded"):
                forwarded = forwarded.map { "\($0), \(value)" } ?? value
                continue
            case 17 where name.caseInsensitiveEquals("x-forwarded-proto"):
                forwardedProto = forwardedProto ?? value
                continue
            case 16 where name.caseInsensitiveEquals("x-forwarded-host"):
                forwardedHost = forwardedHost ?? value
                continue
            case 9 where name.caseInsensitiveEquals("x-real-ip"):
                realIP = realIP ?? value
                continue
            case 23 where name.caseInsensitiveEquals(ExtendedConnect.marker):
                continue  // the gateway's own mark (RFC 8441), never forwarded
            case 11 where traceparent != nil && name.caseInsensitiveEquals("traceparent"):
                continue  // replaced by the gateway's own hop (`TraceContext`)
            case 12 where name.caseInsensitiveEquals("x-request-id"),
                14 where name.caseInsensitiveEquals("content-length"),
                14 where name.caseInsensitiveEquals("http2-settings"),
                6 where name.caseInsensitiveEquals("expect"):
                continue
            default:
                headers.add(name: name, value: value)
            }
        }
        headers.add(name: "host", value: hostRewrite ?? host ?? "")
        if !trustedPeer {
            forwardedFor = nil
            forwarded = nil
            forwardedProto = nil
            forwardedHost = nil
            realIP = nil
        }
        if let client = clientAddress {
            headers.add(name: "x-forwarded-for", value: forwardedFor.map { "\($0), \(client)" } ?? client)
            headers.add(name: "x-real-ip", value: realIP ?? client)
            var element = ""
            element.reserveCapacity(32 + client.utf8.count + (host?.utf8.count ?? 0))  // one allocation, not two
            element += "for="
            element += forwardedNode(client)
            if let host, !host.isEmpty {
                element += ";host=\""
                element += host
                element += "\""
            }
            element += ";proto="
            element += scheme
            headers.add(name: "forwarded", value: forwarded.map { "\($0), \(element)" } ?? element)
        } else {
            if let forwardedFor { headers.add(name: "x-forwarded-for", value: forwardedFor) }
            if let forwarded { headers.add(name: "forwarded", value: forwarded) }
            if let realIP { headers.add(name: "x-real-ip", value: realIP) }
        }
        headers.add(name: "x-forwarded-proto", value: forwardedProto ?? scheme)
        if let forwardedHost = forwardedHost ?? host { headers.add(name: "x-forwarded-host", value: forwardedHost) }
        headers.add(name: "via", value: via.map { "\($0), 1.1 sluice" } ?? "1.1 sluice")
        headers.add(name: "x-request-id", value: requestID)
        if let traceparent { headers.add(name: "traceparent", value: traceparent) }
        switch framing {
        case .none:
            if head.method == .POST || head.method == .PUT || head.method == .PATCH {
                headers.add(name: "content-length", value: "0")
            }
        case .length(let length): headers.add(name: "content-length", value: String(length))
        case .chunked: headers.add(name: "transfer-encoding", value: "chunked")
        }
        // Upstream connections are HTTP/1.1 keep-alive whatever the client spoke.
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: uri, headers: headers)
    }

    /// Request trailers pass the same rules as headers, and may not carry what frames, routes or forwards a
    /// message (RFC 9110 §6.5.1): those are dropped.
    static func upstreamTrailers(_ trailers: HTTPHeaders?) -> HTTPHeaders? {
        guard let trailers, !trailers.isEmpty else { return trailers }
        var kept = HTTPHeaders()
        for (name, value) in trailers {
            if isHopByHop(name) || protectedFields.contains(name.lowercased()) { continue }
            kept.add(name: name, value: value)
        }
        return kept
    }

    /// A node of RFC 7239 `Forwarded`: IPv6 addresses are quoted and bracketed.
    private static func forwardedNode(_ address: String) -> String {
        address.contains(":") ? "\"[\(address)]\"" : address
    }

    /// The response head to send the client: hop-by-hop fields removed, `Via` added.
    /// What the copy of an upstream answer's fields saw, for CORS (which then need not look again).
    struct ResponseFacts {
        /// An `Access-Control-*` field.
        var accessControl = false
        var vary = false
    }

    static func clientResponse(_ head: HTTPResponseHead, version: HTTPVersion, extraCapacity: Int = 0) -> HTTPResponseHead {
        var facts = ResponseFacts()
        return clientResponse(head, version: version, extraCapacity: extraCapacity, facts: &facts)
    }

    /// `extraCapacity`: room for the fields the route's filters will add (no regrowth of the array).
    static func clientResponse(
        _ head: HTTPResponseHead, version: HTTPVersion, extraCapacity: Int, facts: inout ResponseFacts
    ) -> HTTPResponseHead {
        let named = connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2 + extraCapacity)
        var via: String?
        for (name, value) in head.headers {
            if isHopByHop(name) || (!named.isEmpty && named.contains(name.lowercased())) { continue }
            if name.count == 3 && name.caseInsensitiveEquals("via") {
                via = via.map { "\($0), \(value)" } ?? value
                continue
            }
            let length = name.utf8.count
            if length == 17 && name.caseInsensitiveEquals(ResponseCompression.mark) { continue }
            if length == 4, RouteFilters.startsCaseless(name.utf8, with: "vary") {
                facts.vary = true
            } else if length > 15, RouteFilters.startsCaseless(name.utf8, with: "access-control-") {
                facts.accessControl = true
            }
            headers.add(name: name, value: value)
        }
        let hop = head.version == .http1_1 ? "1.1 sluice" : "\(head.version.major).\(head.version.minor) sluice"
        headers.add(name: "via", value: via.map { "\($0), \(hop)" } ?? hop)
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    /// The value of cookie `name` in the request's `Cookie` fields, or nil.
    static func cookie(_ name: String, in headers: HTTPHeaders) -> Substring? {
        for header in headers[canonicalForm: "cookie"] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " }
                if trimmed.hasPrefix(name + "="), let equals = trimmed.firstIndex(of: "=") {
                    return trimmed[trimmed.index(after: equals)...]
                }
            }
        }
        return nil
    }

    /// How the client's request body is framed, read from its head (`RequestGuard` left one canonical field).
    static func framing(of head: HTTPRequestHead) -> BodyFraming {
        if head.headers.contains(name: "transfer-encoding") { return .chunked }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init) {
            return length > 0 ? .length(length) : .none
        }
        return .none
    }

    /// Fields a `Connection` token may not remove and a trailer may not carry: what frames, routes and forwards.
    static let protectedFields: Set<String> = [
        "host", "content-length", "transfer-encoding", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host",
        "forwarded", "x-real-ip", "via", "x-request-id", "authorization", "cookie", "expect", "te", "trailer",
        "content-type", "content-encoding", "content-range", "upgrade", "connection", "keep-alive",
    ]

    // MARK: Helpers

    /// The field names listed in `Connection` (other than close/keep-alive), lowercased: hop-by-hop too.
    private static func connectionTokens(_ headers: HTTPHeaders) -> Set<String> {
        guard headers.contains(name: "connection") else { return [] }
        var tokens = Set<String>()
        for value in headers[canonicalForm: "connection"] {
            let token = value.lowercased()
            if token != "close" && token != "keep-alive" && !protectedFields.contains(token) { tokens.insert(token) }
        }
        return tokens
    }

    /// Hop-by-hop fields (RFC 9110 §7.6.1) and `Proxy-*`.
    static func isHopByHop(_ name: String) -> Bool {
        switch name.utf8.count {
        case 2: return name.caseInsensitiveEquals("te")
        case 7: return name.caseInsensitiveEquals("trailer") || name.caseInsensitiveEquals("upgrade")
        case 10: return name.caseInsensitiveEquals("connection") || name.caseInsensitiveEquals("keep-alive")
        case 17: return name.caseInsensitiveEquals("transfer-encoding")
        default:
            guard let first = name.utf8.first, first | 0x20 == UInt8(ascii: "p"), name.utf8.count > 6 else { return false }
            return name.lowercased().hasPrefix("proxy-")
        }
    }
}

/// How a request body is framed on the wire.
enum BodyFraming: Hashable {
    case none
    case length(Int)
    case chunked
}
