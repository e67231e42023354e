/// Keeps the client's `X-Request-Id` when it is reasonable (1 to 128 visible ASCII characters), otherwise makes one,
/// and echoes it on the answer. Later handlers read it with `c.get("requestID")`.
public func RequestID(header: String = "x-request-id") -> Handler {
    { c in
        let id: String
        if let given = c.header(header), RequestIDs.isAcceptable(given) {
            id = given
        } else {
            id = RequestIDs.make()
        }
        c.set("requestID", id)
        c.setHeader(header, id)
        try c.next()
    }
}

/// Request id making and checking, shared with the gateway's access log.
public enum RequestIDs {
    /// 16 random bytes as 32 lowercase hex digits.
    public static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let high = generator.next() as UInt64
        let low = generator.next() as UInt64
        return hex(high) + hex(low)
    }

    public static func isAcceptable(_ id: String) -> Bool {
        let utf8 = id.utf8
        return !utf8.isEmpty && utf8.count <= 128 && utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
    }

    private static func hex(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.utf8.count) + digits
    }
}
