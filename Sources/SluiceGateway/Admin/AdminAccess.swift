/// Who may use the admin API, decided per request from its head alone (no NIO, no state):
///
/// - state-changing methods (anything but GET, HEAD, OPTIONS) always need `Authorization: Bearer <admin_token>`;
///   with no token configured they are refused;
/// - when the admin address is not loopback, every request needs the token;
/// - a request without a valid token must name the admin listener by address in `Host`: an IP literal or
///   `localhost`. A page on another origin that made its own name resolve to this machine (DNS rebinding) sends
///   its own name and is refused;
/// - a browser request from another site (`Origin` that is not the `Host`, or `Sec-Fetch-Site` other than
///   `same-origin`/`none`) is refused whatever it carries (CSRF).
struct AdminAccess: Sendable, Equatable {
    /// `admin_token`; nil when none is configured.
    var token: String?
    /// The admin API listens on loopback only.
    var loopback: Bool

    enum Decision: Equatable {
        case allow
        /// 401 with `WWW-Authenticate: Bearer`.
        case unauthorized(String)
        /// 403.
        case forbidden(String)
    }

    func decide(
        method: String, host: String?, origin: String?, fetchSite: String?, authorization: String?
    ) -> Decision {
        if let fetchSite, fetchSite != "same-origin" && fetchSite != "none" {
            return .forbidden("cross-site request (Sec-Fetch-Site: \(fetchSite))")
        }
        if let origin {
            // `scheme://host[:port]`; "null" (an opaque origin) never matches.
            let originHost = origin.split(separator: "/", omittingEmptySubsequences: true).dropFirst().first
            if origin == "null" || originHost.map(String.init)?.lowercased() != host?.lowercased() {
                return .forbidden("cross-origin request (Origin: \(origin))")
            }
        }
        let authorized = token.map { Self.bearer(authorization, matches: $0) } ?? false
        let changesState = method != "GET" && method != "HEAD" && method != "OPTIONS"
        if changesState || !loopback {
            guard token != nil else {
                return .forbidden(
                    changesState
                        ? "state-changing admin requests need admin_token, and none is configured"
                        : "the admin API listens beyond loopback and no admin_token is configured")
            }
            guard authorized else { return .unauthorized("a valid 'Authorization: Bearer' admin token is required") }
        }
        if !authorized && !isOwnAddress(host) {
            return .forbidden("Host must be the admin listener's address (an IP literal or localhost)")
        }
        return .allow
    }

    /// `Host` names a listener by address: an IP literal or `localhost`, with or without a port.
    private func isOwnAddress(_ host: String?) -> Bool {
        guard let host, !host.isEmpty else { return false }
        let name: Substring
        let portText: Substring?
        if host.hasPrefix("[") {
            guard let close = host.firstIndex(of: "]") else { return false }
            name = host[host.index(after: host.startIndex)..<close]
            let rest = host[host.index(after: close)...]
            portText = rest.hasPrefix(":") ? rest.dropFirst() : (rest.isEmpty ? nil : "x")
            if portText == "x" { return false }
            guard name.allSatisfy({ $0.isHexDigit || $0 == ":" || $0 == "." }) else { return false }
        } else {
            let parts = host.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
            name = parts[0]
            portText = parts.count > 1 ? parts[1] : nil
            let isIPv4 = name.split(separator: ".", omittingEmptySubsequences: false).count == 4
                && name.allSatisfy { $0.isNumber || $0 == "." }
            guard isIPv4 || name.lowercased() == "localhost" else { return false }
        }
        return portText.map { !$0.isEmpty && $0.allSatisfy(\.isNumber) } ?? true
    }

    /// Compares in time independent of where the strings differ.
    private static func bearer(_ authorization: String?, matches token: String) -> Bool {
        guard let authorization, authorization.utf8.count > 7,
            authorization.prefix(7).lowercased() == "bearer "
        else { return false }
        let given = Array(authorization.utf8.dropFirst(7))
        let wanted = Array(token.utf8)
        var difference = UInt8(given.count == wanted.count ? 0 : 1)
        for index in 0..<max(given.count, wanted.count) {
            difference |= (index < given.count ? given[index] : 0) ^ (index < wanted.count ? wanted[index] : 0)
        }
        return difference == 0
    }
}
