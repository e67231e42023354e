public import NIOHTTP1

/// The checks a request head must pass before anything acts on it: framing (RFC 9112 §6), `Host` (RFC 9112 §3.2),
/// the request target's form (RFC 9112 §3.2), `Expect` (RFC 9110 §10.1.1), and the field count.
///
/// NIO's parser already refuses what is malformed on the wire (`Content-Length` with `Transfer-Encoding`, repeated
/// `Content-Length`, bad chunk sizes, bare LF, obs-fold, NUL and CR in values); this catches what it lets through
/// and what is legal syntax but ambiguous for a proxy. A request that passes leaves with canonical framing: one
/// `Content-Length` of plain digits, or `Transfer-Encoding: chunked`, so nothing after this reads the client's text.
public enum RequestHeadCheck {
    /// The methods a server answers for itself, in `Allow` (`OPTIONS *`, a refused `TRACE` or `CONNECT`).
    public static let serverMethods = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"

    /// How the request body is framed, as parsed.
    public enum Body: Hashable, Sendable {
        case none
        case length(Int)
        case chunked
    }

    public struct Accepted: Sendable {
        /// The head, with framing fields rewritten in canonical form when the client's were not.
        public var head: HTTPRequestHead
        /// Whether `head` differs from the client's (framing fields rewritten).
        public var rewritten: Bool
        public var body: Body
        /// `Expect: 100-continue` from an HTTP/1.1 client.
        public var expectsContinue: Bool
        /// The request asks for a protocol upgrade (`Upgrade` with a `Connection: upgrade` token).
        public var asksForUpgrade: Bool
    }

    public struct Rejected: Error, Sendable, Hashable {
        public var status: HTTPResponseStatus
        public var reason: String
    }

    /// Checks `head`; `maxHeaders` is the most header fields accepted (431 past it).
    public static func check(_ head: HTTPRequestHead, maxHeaders: Int) -> Result<Accepted, Rejected> {
        func reject(_ status: HTTPResponseStatus, _ reason: String) -> Result<Accepted, Rejected> {
            .failure(Rejected(status: status, reason: reason))
        }
        let headers = head.headers
        if headers.count > maxHeaders { return reject(.requestHeaderFieldsTooLarge, "more than \(maxHeaders) header fields") }
        if head.version.major != 1 { return reject(.httpVersionNotSupported, "HTTP version not supported") }
        if head.method.is(.CONNECT) { return reject(.methodNotAllowed, "CONNECT is not supported") }

        // The request target (RFC 9112 §3.2) and Host. One pass over the fields, allocating only for the rare ones.
        var hostCount = 0
        var host: String?
        var lengthCount = 0
        var length: String?
        var codings: [Substring] = []
        var expectations: [String] = []
        var upgradeField = false
        var connection = ConnectionUpgradeTokens()
        for (name, value) in headers {
            switch name.utf8.count {
            case 4 where name.caseInsensitiveEquals("host"):
                hostCount += 1
                host = value
            case 14 where name.caseInsensitiveEquals("content-length"):
                lengthCount += 1
                length = value
            case 17 where name.caseInsensitiveEquals("transfer-encoding"):
                for coding in value.split(separator: ",", omittingEmptySubsequences: false) {
                    codings.append(trimmed(coding))
                }
            case 6 where name.caseInsensitiveEquals("expect"):
                expectations.append(value)
            case 7 where name.caseInsensitiveEquals("upgrade"):
                upgradeField = true
            case 10 where name.caseInsensitiveEquals("connection"):
                connection.add(value)
            default:
                break
            }
        }
        if hostCount > 1 { return reject(.badRequest, "more than one Host") }
        if let host, !isValidHost(host) { return reject(.badRequest, "invalid Host") }
        if hostCount == 0 && head.version.minor >= 1 { return reject(.badRequest, "missing Host") }
        switch targetForm(head.uri) {
        case .origin:
            break
        case .asterisk:
            if !head.method.is(.OPTIONS) { return reject(.badRequest, "'*' is a target for OPTIONS only") }
        case .absolute(let authority):
            guard isValidHost(String(authority)), !authority.isEmpty else {
                return reject(.badRequest, "invalid authority in the request target")
            }
            if let host, !host.caseInsensitiveEquals(String(authority)) {
                return reject(.badRequest, "Host disagrees with the request target's authority")
            }
        case .invalid:
            return reject(.badRequest, "invalid request target")
        }

        // Framing (RFC 9112 §6.1, §6.3).
        var body = Body.none
        var canonical = true
        if !codings.isEmpty {
            if head.version.minor == 0 { return reject(.badRequest, "Transfer-Encoding in an HTTP/1.0 request") }
            if lengthCount > 0 { return reject(.badRequest, "both Content-Length and Transfer-Encoding") }
            guard let last = codings.last, last.lowercased() == "chunked" else {
                return reject(.badRequest, "chunked is not the final transfer coding")
            }
            if codings.contains(where: \.isEmpty) { return reject(.badRequest, "empty transfer coding") }
            if codings.count > 1 { return reject(.notImplemented, "transfer coding other than chunked") }
            canonical = last == "chunked" && codings.count == 1
            body = .chunked
        } else if let text = length {
            if lengthCount > 1 { return reject(.badRequest, "more than one Content-Length") }
            guard let value = contentLength(text) else { return reject(.badRequest, "invalid Content-Length") }
            canonical = isCanonicalLength(text)
            body = value > 0 ? .length(value) : .none
        }

        // TRACE reflects the request back; a body on it has no meaning and is how requests get smuggled.
        if head.method.is(.TRACE) && body != .none { return reject(.methodNotAllowed, "TRACE with a body") }

        var expectsContinue = false
        for expectation in expectations {
            let value = trimmed(expectation[...])
            if value.isEmpty { continue }
            guard value.lowercased() == "100-continue" else { return reject(.expectationFailed, "unsupported Expect") }
            expectsContinue = head.version.minor >= 1
        }

        let upgrade = upgradeField && connection.upgrade
        if upgradeField && !upgrade && connection.mentionsUpgrade {
            return reject(.badRequest, "ambiguous Connection: upgrade")
        }

        var accepted = head
        if !canonical {
            accepted.headers.remove(name: "content-length")
            accepted.headers.remove(name: "transfer-encoding")
            switch body {
            case .none: if lengthCount > 0 { accepted.headers.add(name: "content-length", value: "0") }
            case .length(let length): accepted.headers.add(name: "content-length", value: String(length))
            case .chunked: accepted.headers.add(name: "transfer-encoding", value: "chunked")
            }
        }
        return .success(Accepted(head: accepted, rewritten: !canonical, body: body, expectsContinue: expectsContinue, asksForUpgrade: upgrade))
    }

    /// llhttp's rule for a request after which it stops parsing: an `Upgrade` field and an `upgrade` token in
    /// `Connection`.
    public static func asksForUpgrade(_ headers: HTTPHeaders) -> Bool {
        guard headers.contains(name: "upgrade") else { return false }
        return headers[canonicalForm: "connection"].contains { $0.lowercased() == "upgrade" }
    }

    // MARK: Pieces

    enum TargetForm: Equatable {
        case origin
        case asterisk
        case absolute(authority: Substring)
        case invalid
    }

    static func targetForm(_ uri: String) -> TargetForm {
        guard let first = uri.utf8.first else { return .invalid }
        if first == UInt8(ascii: "/") { return .origin }
        if uri == "*" { return .asterisk }
        let lower = uri.prefix(8).lowercased()
        let schemeLength: Int
        if lower.hasPrefix("http://") {
            schemeLength = 7
        } else if lower.hasPrefix("https://") {
            schemeLength = 8
        } else {
            return .invalid
        }
        let rest = uri.dropFirst(schemeLength)
        let end = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[..<end]
        if authority.contains("@") { return .invalid }  // userinfo has no place in a request (RFC 9110 §4.2.4)
        return .absolute(authority: authority)
    }

    /// The authority of an absolute-form target (`http://a:8080/b` → `a:8080`); nil for other forms.
    public static func authority(of uri: String) -> String? {
        guard case .absolute(let authority) = targetForm(uri) else { return nil }
        return String(authority)
    }

    /// The origin-form of an absolute-form target (`http://a/b?c` → `/b?c`).
    public static func originForm(of uri: String) -> String {
        guard case .absolute = targetForm(uri) else { return uri }
        let scheme = uri.utf8.dropFirst(4).first == UInt8(ascii: ":") ? 7 : 8
        let rest = uri.dropFirst(scheme)
        guard let slash = rest.firstIndex(where: { $0 == "/" || $0 == "?" }) else { return "/" }
        return rest[slash] == "?" ? "/" + rest[slash...] : String(rest[slash...])
    }

    /// Plain digits without leading zeros (or a single `0`): the form a checked head passes on unchanged.
    static func isCanonicalLength(_ value: String) -> Bool {
        let bytes = value.utf8
        guard let first = bytes.first, first != UInt8(ascii: "0") || bytes.count == 1 else { return false }
        return bytes.allSatisfy(isDigit)
    }

    /// What the `Connection` fields say about upgrading: an `upgrade` token (llhttp's rule, with an `Upgrade`
    /// field), or a token that merely contains the word (ambiguous: refused).
    struct ConnectionUpgradeTokens {
        var upgrade = false
        var mentionsUpgrade = false

        mutating func add(_ value: String) {
            for text in tokens(of: value) {
                if text.caseInsensitiveEquals("upgrade") {
                    upgrade = true
                } else if text.lowercased().contains("upgrade") {
                    mentionsUpgrade = true
                }
            }
        }
    }

    /// The tokens of a comma-separated field value (`Connection`), trimmed, empty ones left out.
    static func tokens(of value: String) -> [Substring] {
        value.split(separator: ",").map { trimmed($0) }.filter { !$0.isEmpty }
    }

    /// `1*DIGIT` after trimming optional whitespace, and small enough to count (RFC 9110 §8.6).
    static func contentLength(_ value: String) -> Int? {
        if let parsed = value.utf8.withContiguousStorageIfAvailable(contentLength) { return parsed }
        return Array(value.utf8).withUnsafeBufferPointer(contentLength)
    }

    /// Digits between optional spaces and tabs; at most 18 significant digits, so the value fits an `Int`.
    private static func contentLength(_ bytes: UnsafeBufferPointer<UInt8>) -> Int? {
        var start = 0
        var end = bytes.count
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        guard start < end else { return nil }
        var value = 0
        var significant = 0
        for index in start..<end {
            let digit = bytes[index] &- UInt8(ascii: "0")
            guard digit < 10 else { return nil }
            if significant > 0 || digit > 0 { significant += 1 }
            guard significant <= 18 else { return nil }
            value = value * 10 + Int(digit)
        }
        return value
    }

    /// A `Host` value: a reg-name, IPv4 or bracketed IPv6 literal, with an optional port (RFC 3986 §3.2.2); empty is
    /// allowed (RFC 9112 §3.2).
    static func isValidHost(_ host: String) -> Bool {
        // The common case, a name or IPv4 address with an optional port, on the string's contiguous bytes.
        if let plain = host.utf8.withContiguousStorageIfAvailable(isPlainHost) { return plain }
        return isValidHostSlow(host)
    }

    /// `reg-name / IPv4 [":" port]`, or any host (`[` first) for the full check.
    private static func isPlainHost(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        if bytes.first == UInt8(ascii: "[") { return isValidHostSlow(String(decoding: bytes, as: UTF8.self)) }
        var sawColon = false
        for byte in bytes {
            if sawColon {
                if byte &- UInt8(ascii: "0") > 9 { return false }
            } else if byte == UInt8(ascii: ":") {
                sawColon = true
            } else if !isHostByte(byte) {
                return false
            }
        }
        return true
    }

    /// ALPHA / DIGIT / "-" / "." / "_" / "~".
    @inline(__always)
    private static func isHostByte(_ byte: UInt8) -> Bool {
        ByteWords.isIn(byte, low: 0x03FF_6000_0000_0000, high: 0x47FF_FFFE_87FF_FFFE)
    }

    private static func isValidHostSlow(_ host: String) -> Bool {
        var bytes = host.utf8[...]
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return false }
            let literal = bytes[bytes.index(after: bytes.startIndex)..<close]
            guard !literal.isEmpty, literal.allSatisfy({ isHex($0) || $0 == UInt8(ascii: ":") || $0 == UInt8(ascii: ".") })
            else { return false }
            bytes = bytes[bytes.index(after: close)...]
            if bytes.isEmpty { return true }
            guard bytes.first == UInt8(ascii: ":") else { return false }
            return bytes.dropFirst().allSatisfy(isDigit)
        }
        var sawColon = false
        for byte in bytes {
            if sawColon {
                guard isDigit(byte) else { return false }
                continue
            }
            switch byte {
            case UInt8(ascii: ":"): sawColon = true
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                continue
            default:
                return false
            }
        }
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isHex(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "f"))
    }

    static func trimmed(_ text: Substring) -> Substring {
        guard let first = text.firstIndex(where: { $0 != " " && $0 != "\t" }),
            let last = text.lastIndex(where: { $0 != " " && $0 != "\t" })
        else { return text[text.endIndex...] }
        return text[first...last]
    }
}

extension String {
    /// ASCII case-insensitive equality, for header names, without allocating.
    package func caseInsensitiveEquals(_ other: String) -> Bool {
        utf8.count == other.utf8.count && caseInsensitiveEqual(utf8, other.utf8)
    }
}

extension Substring {
    /// ASCII case-insensitive equality, without allocating.
    func caseInsensitiveEquals(_ other: String) -> Bool { caseInsensitiveEqual(utf8, other.utf8) }
}

/// On the contiguous bytes of both when they have them (going through a `Substring` view first cost more than the
/// comparison), else element by element.
@inline(__always)
private func caseInsensitiveEqual(_ a: some Collection<UInt8>, _ b: String.UTF8View) -> Bool {
    let fast = a.withContiguousStorageIfAvailable { a in
        b.withContiguousStorageIfAvailable { b in
            guard a.count == b.count else { return false }
            for i in 0..<a.count where !caseInsensitiveSameByte(a[i], b[i]) { return false }
            return true
        }
    }
    if let result = fast ?? nil { return result }
    return a.elementsEqual(b, by: caseInsensitiveSameByte)
}

@inline(__always)
private func caseInsensitiveSameByte(_ x: UInt8, _ y: UInt8) -> Bool {
    x == y || (x | 0x20 == y | 0x20 && (x | 0x20) >= UInt8(ascii: "a") && (x | 0x20) <= UInt8(ascii: "z"))
}

extension HTTPMethod {
    /// Whether this is `method`, by its case: `==` goes through `rawValue` (two strings made and compared, as
    /// `HTTPMethod` is `RawRepresentable`), which the request path did nine times a request. Not for `.RAW`.
    @inline(__always)
    public func `is`(_ method: HTTPMethod) -> Bool {
        switch (self, method) {
        case (.GET, .GET), (.HEAD, .HEAD), (.POST, .POST), (.PUT, .PUT), (.DELETE, .DELETE), (.OPTIONS, .OPTIONS),
            (.TRACE, .TRACE), (.CONNECT, .CONNECT), (.PATCH, .PATCH):
            true
        default:
            false
        }
    }
}
