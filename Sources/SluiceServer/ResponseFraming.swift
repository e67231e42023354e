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
    public static func frame(
        _ head: inout HTTPResponseHead, method: HTTPMethod, version: HTTPVersion, keepAlive: Bool, rewrote: inout Bool
    ) -> ResponseFraming {
        let code = head.status.code
        var closes = !keepAlive
            || head.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        let dropsBody: Bool
        var chunked = false
        if code < 200 || code == 204 {
            rewrote = remove("content-length", from: &head) || rewrote
            rewrote = remove("transfer-encoding", from: &head) || rewrote
            dropsBody = true
        } else if method == .HEAD || code == 304 {
            rewrote = remove("transfer-encoding", from: &head) || rewrote
            dropsBody = true
        } else {
            dropsBody = false
            if head.headers.contains(name: "content-length") {
                rewrote = remove("transfer-encoding", from: &head) || rewrote
            } else if version.major == 1 && version.minor >= 1 {
                head.headers.replaceOrAdd(name: "transfer-encoding", value: "chunked")
                rewrote = true
                chunked = true
            } else {
                rewrote = remove("transfer-encoding", from: &head) || rewrote
                closes = true
            }
        }
        if code >= 200 {
            if closes {
                head.headers.replaceOrAdd(name: "connection", value: "close")
                rewrote = true
            } else if version.minor == 0 {
                head.headers.replaceOrAdd(name: "connection", value: "keep-alive")
                rewrote = true
            }
        }
        return ResponseFraming(dropsBody: dropsBody, closesConnection: closes, chunked: chunked)
    }

    /// Removes a field only when it is there: removing copies the head's fields even when nothing matches.
    @discardableResult
    private static func remove(_ name: String, from head: inout HTTPResponseHead) -> Bool {
        guard head.headers.contains(name: name) else { return false }
        head.headers.remove(name: name)
        return true
    }
}
