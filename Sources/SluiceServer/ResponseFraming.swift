public import NIOHTTP1

/// Frames a response for the request it answers (RFC 9112 §6): the server's encoder does not guess, so this is the
/// one place that decides whether a response carries a body and how its end is found.
///
/// - 1xx and 204 carry no body and no framing fields; a response to HEAD and a 304 keep their `Content-Length`
///   (it describes the representation) but never `Transfer-Encoding`, and no body bytes are sent.
/// - Otherwise a `Content-Length` stands; without one, an HTTP/1.1 client gets `chunked`, and an HTTP/1.0 client
///   (which knows no chunking) gets a body ended by closing the connection.
public struct ResponseFraming: Hashable, Sendable {
    /// Body parts must not be written: HEAD, 204, 304, 1xx.
    public var dropsBody: Bool
    /// The end of the body is the end of the connection.
    public var closesConnection: Bool
    /// The body goes out in chunks (`Transfer-Encoding: chunked`).
    public var chunked = false

    /// Rewrites `head`'s framing fields for a request made with `method` in `version`, where `keepAlive` says
    /// whether the connection is to stay open after it.
    public static func frame(
        _ head: inout HTTPResponseHead, method: HTTPMethod, version: HTTPVersion, keepAlive: Bool
    ) -> ResponseFraming {
        var rewrote = false
        return frame(&head, method: method, version: version, keepAlive: keepAlive, rewrote: &rewrote)
    }

    /// `frame`, also telling whether `head` was changed (so an unchanged head can be passed on as it came).
    /// `lengthAdded`: a `Content-Length` is to be written after the head's fields (`ResponseEncoding.AddedFields`).
    public static func frame(
        _ head: inout HTTPResponseHead, method: HTTPMethod, version: HTTPVersion, keepAlive: Bool, rewrote: inout Bool,
        lengthAdded: Bool = false
    ) -> ResponseFraming {
        frame(
            status: head.status, headers: &head.headers, method: method, version: version, keepAlive: keepAlive,
            rewrote: &rewrote, lengthAdded: lengthAdded)
    }

    /// `frame` on a head's parts.
    public static func frame(
        status: HTTPResponseStatus, headers: inout HTTPHeaders, method: HTTPMethod, version: HTTPVersion,
        keepAlive: Bool, rewrote: inout Bool, lengthAdded: Bool = false
    ) -> ResponseFraming {
        let code = status.code
        // One pass over the fields for the three that framing reads.
        var hasLength = false
        var hasCoding = false
        var saysClose = false
        for (name, value) in headers {
            switch name.utf8.count {
            case 14 where name.caseInsensitiveEquals("content-length"): hasLength = true
            case 17 where name.caseInsensitiveEquals("transfer-encoding"): hasCoding = true
            case 10 where name.caseInsensitiveEquals("connection"): saysClose = saysClose || hasCloseToken(value)
            default: break
            }
        }
        var closes = !keepAlive || saysClose
        let dropsBody: Bool
        var chunked = false
        if code < 200 || code == 204 {
            if hasLength { remove("content-length", from: &headers, rewrote: &rewrote) }
            if hasCoding { remove("transfer-encoding", from: &headers, rewrote: &rewrote) }
            dropsBody = true
        } else if method.is(.HEAD) || code == 304 {
            if hasCoding { remove("transfer-encoding", from: &headers, rewrote: &rewrote) }
            dropsBody = true
        } else {
            dropsBody = false
            if hasLength || lengthAdded {
                if hasCoding { remove("transfer-encoding", from: &headers, rewrote: &rewrote) }
            } else if version.major == 1 && version.minor >= 1 {
                headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
                rewrote = true
                chunked = true
            } else {
                if hasCoding { remove("transfer-encoding", from: &headers, rewrote: &rewrote) }
                closes = true
            }
        }
        if code >= 200 {
            if closes {
                headers.replaceOrAdd(name: "connection", value: "close")
                rewrote = true
            } else if version.minor == 0 {
                headers.replaceOrAdd(name: "connection", value: "keep-alive")
                rewrote = true
            }
        }
        return ResponseFraming(dropsBody: dropsBody, closesConnection: closes, chunked: chunked)
    }

    private static func remove(_ name: String, from headers: inout HTTPHeaders, rewrote: inout Bool) {
        headers.remove(name: name)
        rewrote = true
    }

    /// Whether a `Connection` value has the `close` token.
    private static func hasCloseToken(_ value: String) -> Bool {
        RequestHeadCheck.tokens(of: value).contains { $0.caseInsensitiveEquals("close") }
    }
}
