import SluiceTraffic

/// An address to listen on: `0.0.0.0:8080`, `127.0.0.1:8080`, `[::1]:8080`, or just a port (`:8080`, `8080`), which
/// means every IPv4 interface.
public struct ListenAddress: Hashable, Sendable, CustomStringConvertible {
    /// An IP address (IPv6 without brackets) or a host name.
    public var host: String
    /// 0 asks the kernel for a free port.
    public var port: Int
    /// `tls` after the address: TLS with the `[tls]` certificates, HTTP/2 or HTTP/1.1 by ALPN.
    public var tls = false
    /// `h2c` after the address (plain listeners): HTTP/2 with prior knowledge, and HTTP/1.1 from clients that
    /// start with an HTTP/1.1 request.
    public var h2c = false
    /// `redirect_https` after the address (plain listeners): every request is answered 308 to the same host and
    /// path over https.
    public var redirectHTTPS = false

    public init(host: String, port: Int, tls: Bool = false, h2c: Bool = false, redirectHTTPS: Bool = false) {
        self.host = host
        self.port = port
        self.tls = tls
        self.h2c = h2c
        self.redirectHTTPS = redirectHTTPS
    }

    /// The address and its flags, as a `listen` line writes them: `0.0.0.0:8443 tls`.
    public var listenLine: String {
        var line = description
        if tls { line += " tls" }
        if h2c { line += " h2c" }
        if redirectHTTPS { line += " redirect_https" }
        return line
    }

    /// Parses a `listen` value: an address, then optional flags `tls`, `h2c`, `redirect_https`.
    public init(listenLine text: some StringProtocol) throws(ValueError) {
        let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard let first = words.first else { try self.init(text) ; return }
        try self.init(first)
        let expected = "an address followed by flags among tls, h2c, redirect_https (like 0.0.0.0:8443 tls)"
        for word in words.dropFirst() {
            switch word {
            case "tls": tls = true
            case "h2c": h2c = true
            case "redirect_https": redirectHTTPS = true
            default: throw ValueError(expected: expected, got: String(text))
            }
        }
        if tls && (h2c || redirectHTTPS) {
            throw ValueError(
                expected: "\(expected); a tls listener offers HTTP/2 through ALPN and needs neither h2c nor "
                    + "redirect_https", got: String(text))
        }
    }

    /// Parses `host:port`, `[v6]:port`, `:port` or `port`.
    public init(_ text: some StringProtocol) throws(ValueError) {
        let (host, port) = try HostPort.parse(
            text, defaultHost: "0.0.0.0", ports: 0...65535,
            expected: "an address like 0.0.0.0:8080, 127.0.0.1:8080, [::1]:8080 or :8080")
        self.init(host: host, port: port)
    }

    /// `host:port`, with an IPv6 host in brackets; reads back as the same address.
    public var description: String { HostPort.format(host: host, port: port) }

    /// `0.0.0.0` or `::`: the port on every interface of that family.
    public var isWildcard: Bool { host == "0.0.0.0" || host == "::" }

    /// Whether binding both would fail: the same port on the same host, or on a wildcard of the same family.
    func overlaps(_ other: ListenAddress) -> Bool {
        guard port == other.port, port != 0 else { return false }
        if host.lowercased() == other.host.lowercased() { return true }
        let isV6 = host.contains(":")
        let otherIsV6 = other.host.contains(":")
        return isV6 == otherIsV6 && (isWildcard || other.isWildcard)
    }
}

/// `host:port` as written in `listen`, `admin` and upstream `server` lines.
enum HostPort {
    /// Reads `host:port` or `[v6]:port`. With a `defaultHost`, the host may be left out (`:8080`, `8080`).
    static func parse(
        _ text: some StringProtocol, defaultHost: String?, ports: ClosedRange<Int>, expected: String
    ) throws(ValueError) -> (host: String, port: Int) {
        let text = text.trimmedSpaces
        let error = ValueError(expected: expected, got: text)
        var host: Substring
        var port: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw error }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw error }
            port = rest.dropFirst()
            guard isIPv6(host) else { throw error }
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
            if host.contains(":") {
                throw ValueError(expected: "\(expected) (an IPv6 address goes in brackets, like [::1]:8080)", got: text)
            }
            if host.isEmpty {
                guard let defaultHost else { throw error }
                host = defaultHost[...]
            }
            guard isHostName(host) else { throw error }
        } else {
            guard let defaultHost else {
                throw ValueError(expected: "\(expected) (the port is missing)", got: text)
            }
            host = defaultHost[...]
            port = text
        }
        guard let number = ValueParsing.wholeNumber(Array(port.utf8)[...]) else { throw error }
        guard ports.contains(number) else {
            throw ValueError(
                expected: "\(expected) (ports go from \(ports.lowerBound) to \(ports.upperBound))", got: text)
        }
        return (String(host), number)
    }

    static func format(host: String, port: Int) -> String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// Letters, digits, `.`, `-`, `_`; a name made only of digits and dots must be a dotted-quad IPv4 address.
    static func isHostName(_ host: Substring) -> Bool {
        guard !host.isEmpty, host.utf8.allSatisfy({ ASCII.isNameByte($0) }) else { return false }
        guard host.allSatisfy({ $0.isASCII && ($0.isNumber || $0 == ".") }) else { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        return parts.count == 4 && parts.allSatisfy { !$0.isEmpty && $0.count <= 3 && Int($0)! <= 255 }
    }

    /// Hex digits, colons and dots (for an embedded IPv4 address), at least one colon, then an optional `%zone`.
    static func isIPv6(_ host: Substring) -> Bool {
        let address = host.split(separator: "%", maxSplits: 1, omittingEmptySubsequences: false)
        guard let first = address.first, first.contains(":"), first.count <= 45,
            first.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." })
        else { return false }
        return address.count == 1 || !address[1].isEmpty
    }
}

extension ListenAddress {
    /// Whether only this machine can reach the address: `localhost`, `127.0.0.0/8` or `::1` (also written in full,
    /// or IPv4-mapped). A bare `:port` means `0.0.0.0`, which is not.
    public var isLoopback: Bool {
        let host = host.lowercased()
        if host == "localhost" { return true }
        return Self.loopback.contains { $0.contains(host) }
    }

    private static let loopback = [CIDR("127.0.0.0/8")!, CIDR("::1")!]
}
