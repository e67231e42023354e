import NIOHTTP1
import SluiceServer

/// The header rewriting a forwarding proxy owes both sides (RFC 9110 §7.6): hop-by-hop fields end here, the
/// upstream learns who the client was, and both learn a proxy was in between.
enum ProxyHeaders {
    /// The request head to send upstream, made from the client's in one pass.
    ///
    /// - Hop-by-hop fields go (`Connection` and the fields it names, `Keep-Alive`, `TE`, `Trailer`,
    ///   `Transfer-Encoding`, `Upgrade`, `Proxy-*`); framing is set again for the body that will be forwarded.
    /// - `X-Forwarded-For` gets the client's address appended, `X-Forwarded-Proto` and `X-Forwarded-Host` are set,
    ///   `Via` gets `1.1 sluice`, `X-Request-Id` is kept when reasonable or made.
    /// - `Host` is the client's unless the route rewrites it.
    static func upstreamRequest(
        _ head: HTTPRequestHead, framing: BodyFraming, clientAddress: String?, scheme: String, requestID: String,
        hostRewrite: String?
    ) -> HTTPRequestHead {
        let named = connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 6)
        var forwardedFor: String?
        var via: String?
        var host: String?
        for (name, value) in head.headers {
            if isHopByHop(name) || (!named.isEmpty && named.contains(name.lowercased())) { continue }
            switch name.count {
            case 4 where name.caseInsensitiveEquals("host"):
                host = value
                continue
            case 3 where name.caseInsensitiveEquals("via"):
                via = via.map { "\($0), \(value)" } ?? value
                continue
            case 15 where name.caseInsensitiveEquals("x-forwarded-for"):
                forwardedFor = forwardedFor.map { "\($0), \(value)" } ?? value
                continue
            case 17 where name.caseInsensitiveEquals("x-forwarded-proto"),
                16 where name.caseInsensitiveEquals("x-forwarded-host"),
                12 where name.caseInsensitiveEquals("x-request-id"),
                6 where name.caseInsensitiveEquals("expect"):
                continue
            default:
                headers.add(name: name, value: value)
            }
        }
        headers.add(name: "host", value: hostRewrite ?? host ?? "")
        if let client = clientAddress {
            headers.add(name: "x-forwarded-for", value: forwardedFor.map { "\($0), \(client)" } ?? client)
        } else if let forwardedFor {
            headers.add(name: "x-forwarded-for", value: forwardedFor)
        }
        headers.add(name: "x-forwarded-proto", value: scheme)
        if let host { headers.add(name: "x-forwarded-host", value: host) }
        headers.add(name: "via", value: via.map { "\($0), 1.1 sluice" } ?? "1.1 sluice")
        headers.add(name: "x-request-id", value: requestID)
        switch framing {
        case .none: break
        case .length(let length): headers.replaceOrAdd(name: "content-length", value: String(length))
        case .chunked: headers.add(name: "transfer-encoding", value: "chunked")
        }
        // Upstream connections are HTTP/1.1 keep-alive whatever the client spoke.
        return HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)
    }

    /// The response head to send the client: hop-by-hop fields removed, `Via` added.
    static func clientResponse(_ head: HTTPResponseHead, version: HTTPVersion) -> HTTPResponseHead {
        let named = connectionTokens(head.headers)
        var headers = HTTPHeaders()
        headers.reserveCapacity(head.headers.count + 2)
        var via: String?
        for (name, value) in head.headers {
            if isHopByHop(name) || (!named.isEmpty && named.contains(name.lowercased())) { continue }
            if name.count == 3 && name.caseInsensitiveEquals("via") {
                via = via.map { "\($0), \(value)" } ?? value
                continue
            }
            headers.add(name: name, value: value)
        }
        let hop = head.version == .http1_1 ? "1.1 sluice" : "\(head.version.major).\(head.version.minor) sluice"
        headers.add(name: "via", value: via.map { "\($0), \(hop)" } ?? hop)
        return HTTPResponseHead(version: version, status: head.status, headers: headers)
    }

    /// How the client's request body is framed, read from its head.
    static func framing(of head: HTTPRequestHead) -> BodyFraming {
        if head.headers.first(name: "transfer-encoding") != nil { return .chunked }
        if let length = head.headers.first(name: "content-length").flatMap(Int.init) {
            return length > 0 ? .length(length) : .none
        }
        return .none
    }

    // MARK: Helpers

    /// The field names listed in `Connection` (other than close/keep-alive), lowercased: hop-by-hop too.
    private static func connectionTokens(_ headers: HTTPHeaders) -> Set<String> {
        guard headers.contains(name: "connection") else { return [] }
        var tokens = Set<String>()
        for value in headers[canonicalForm: "connection"] {
            let token = value.lowercased()
            if token != "close" && token != "keep-alive" { tokens.insert(token) }
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
