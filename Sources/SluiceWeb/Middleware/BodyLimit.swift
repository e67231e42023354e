/// Refuses request bodies larger than `bytes` with 413, for the routes behind it (the server's `maxBodySize` is the
/// limit for all routes; this one is smaller, per route or group).
public func BodyLimit(_ bytes: Int) -> Handler {
    { c in
        if let length = c.body?.readableBytes, length > bytes {
            c.abort()
            c.errorAnswer(.payloadTooLarge, "the body is larger than \(bytes) bytes")
            return
        }
        try c.next()
    }
}
