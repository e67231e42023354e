import NIOHTTP1

/// What the gateway answers a gRPC call (`content-type: application/grpc…`) that it fails itself (no route, limited,
/// breaker open, upstream down or slow): HTTP 200 with `grpc-status` and `grpc-message` in the trailers, as gRPC
/// clients expect (an HTML or text body would surface as an `UNKNOWN` or `INTERNAL` error). The mapping follows
/// gRPC's HTTP-to-gRPC status table, with the gateway's own meaning of 502/503/504. No NIO.
enum GRPCAnswer {
    /// Whether a request with this `content-type` is a gRPC call.
    static func isGRPC(contentType: String?) -> Bool {
        guard let contentType, contentType.utf8.count >= 16 else { return false }
        let type = contentType.lowercased()
        guard type.hasPrefix("application/grpc") else { return false }
        // `application/grpc`, `application/grpc+proto`, `application/grpc; …`; not `application/grpc-web…`.
        let rest = type.dropFirst(16)
        return rest.isEmpty || rest.hasPrefix("+") || rest.hasPrefix(";") || rest.hasPrefix(" ")
    }

    /// The gRPC status code for an HTTP status the gateway would have answered.
    static func status(forHTTP code: UInt) -> Int {
        switch code {
        case 400: 13  // INTERNAL: the call itself was malformed
        case 401: 16  // UNAUTHENTICATED
        case 403: 7  // PERMISSION_DENIED
        case 404, 405, 501: 12  // UNIMPLEMENTED: no route for this method
        case 408, 504: 4  // DEADLINE_EXCEEDED
        case 413, 429: 8  // RESOURCE_EXHAUSTED
        case 502, 503: 14  // UNAVAILABLE: upstream down, breaker open, shed, degraded
        default: code < 400 ? 0 : 2  // UNKNOWN
        }
    }

    /// `grpc-message`: percent-encoded (gRPC's rule: bytes outside 0x20...0x7E, and `%`), one line.
    static func message(_ text: String) -> String {
        var encoded = ""
        for byte in text.utf8 where byte != UInt8(ascii: "\n") && byte != UInt8(ascii: "\r") {
            if byte >= 0x20 && byte <= 0x7E && byte != UInt8(ascii: "%") {
                encoded.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                let hex = Array("0123456789ABCDEF".utf8)
                encoded += "%" + String(decoding: [hex[Int(byte >> 4)], hex[Int(byte & 0xF)]], as: UTF8.self)
            }
        }
        return encoded
    }

    /// Takes `grpc-status`, `grpc-message` and `grpc-status-details-bin` out of `headers`, as trailers.
    static func moveStatus(from headers: inout HTTPHeaders) -> HTTPHeaders {
        var trailers = HTTPHeaders()
        for name in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
            for value in headers[canonicalForm: name] { trailers.add(name: name, value: String(value)) }
            headers.remove(name: name)
        }
        return trailers
    }
}
