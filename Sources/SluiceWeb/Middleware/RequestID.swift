import SluiceServer

/// Keeps the client's `X-Request-Id` when it is reasonable (1 to 128 visible ASCII characters), otherwise makes one,
/// and echoes it on the answer. Later handlers read it as `c.requestID`.
public func RequestID(header: String = "x-request-id") -> Handler {
    { c in
        let id: String
        if let given = c.header(header), RequestIDs.isAcceptable(given) {
            id = given
        } else {
            id = RequestIDs.make()
        }
        c.requestID = id
        c.responseHeaders.add(name: header, value: id)
        try c.next()
    }
}

