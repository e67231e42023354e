import NIOHTTP1
import SluiceServer

/// A cookie to set (RFC 6265 §4.1): `c.setCookie(Cookie(name: "session", value: id, maxAge: 3600))`. Defaults are
/// the safe ones: `Path=/`, `HttpOnly`, `SameSite=Lax`.
public struct Cookie: Sendable, Equatable {
    /// `crossSite` is `SameSite=None` (named so it is not confused with an absent attribute); it needs `secure`.
    public enum SameSite: String, Sendable { case strict = "Strict", lax = "Lax", crossSite = "None" }

    public var name: String
    public var value: String
    /// Seconds until it expires; 0 or less deletes it at once.
    public var maxAge: Int?
    public var domain: String?
    public var path: String?
    public var secure: Bool
    public var httpOnly: Bool
    public var sameSite: SameSite?

    public init(
        name: String, value: String, maxAge: Int? = nil, domain: String? = nil, path: String? = "/",
        secure: Bool = false, httpOnly: Bool = true, sameSite: SameSite? = .lax
    ) {
        self.name = name
        self.value = value
        self.maxAge = maxAge
        self.domain = domain
        self.path = path
        self.secure = secure
        self.httpOnly = httpOnly
        self.sameSite = sameSite
    }

    /// The `Set-Cookie` value. Throws when the name is not a token, the value has characters a cookie may not carry
    /// (quote it yourself, or encode it), an attribute has `;` or control characters, or `SameSite=None` comes
    /// without `Secure` (browsers drop such cookies).
    public func headerValue() throws(HTTPError) -> String {
        guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else {
            throw HTTPError(.internalServerError, "cookie name \"\(name)\" is not a token")
        }
        guard value.utf8.allSatisfy(Self.isCookieOctet) else {
            throw HTTPError(.internalServerError, "cookie \(name): the value has characters a cookie may not carry")
        }
        for attribute in [domain, path].compactMap({ $0 }) where attribute.utf8.contains(where: { $0 < 0x20 || $0 == 0x3B || $0 == 0x7F }) {
            throw HTTPError(.internalServerError, "cookie \(name): an attribute has ';' or a control character")
        }
        if sameSite == .crossSite, !secure {
            throw HTTPError(.internalServerError, "cookie \(name): SameSite=None needs Secure")
        }
        var text = name + "=" + value
        if let maxAge { text += "; Max-Age=\(max(maxAge, 0))" }
        if let domain { text += "; Domain=" + domain }
        if let path { text += "; Path=" + path }
        if secure { text += "; Secure" }
        if httpOnly { text += "; HttpOnly" }
        if let sameSite { text += "; SameSite=" + sameSite.rawValue }
        return text
    }

    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }

    /// cookie-octet: visible ASCII but DQUOTE, comma, semicolon and backslash (RFC 6265 §4.1.1).
    static func isCookieOctet(_ byte: UInt8) -> Bool {
        byte == 0x21 || (0x23...0x2B).contains(byte) || (0x2D...0x3A).contains(byte) || (0x3C...0x5B).contains(byte)
            || (0x5D...0x7E).contains(byte)
    }
}

extension Context {
    /// The value of the request cookie `name` (the first one, as browsers send the most specific first), with one
    /// pair of surrounding quotes removed.
    public func cookie(_ name: String) -> String? {
        for line in headers[canonicalForm: "cookie"] {
            for pair in line.split(separator: ";") {
                let trimmed = pair.drop { $0 == " " || $0 == "\t" }
                guard let equals = trimmed.firstIndex(of: "="), trimmed[..<equals] == name else { continue }
                var value = trimmed[trimmed.index(after: equals)...]
                while value.last == " " || value.last == "\t" { value.removeLast() }
                if value.count >= 2, value.first == "\"", value.last == "\"" { value = value.dropFirst().dropLast() }
                return String(value)
            }
        }
        return nil
    }

    /// Adds a `Set-Cookie` field to the answer.
    public func setCookie(_ cookie: Cookie) throws(HTTPError) {
        responseHeaders.add(name: "set-cookie", value: try cookie.headerValue())
    }
}
