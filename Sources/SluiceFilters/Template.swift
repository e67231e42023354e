/// A value the gateway fills in per request.
public enum FilterVariable: Hashable, Sendable {
    /// `$client_ip`: the client's address once `trusted_proxies` were applied.
    case clientIP
    /// `$remote_addr`: the address of the connection's peer.
    case remoteAddress
    /// `$request_id`
    case requestID
    /// `$route`: the route's name.
    case route
    /// `$upstream`: the upstream's name.
    case upstream
    /// `$upstream_server`: the server that answered (`host:port`; responses only).
    case upstreamServer
    /// `$zone`: the zone of the server that answered (responses only).
    case zone
    /// `$host`: the request's `Host`.
    case host
    /// `$scheme`: `http` or `https`.
    case scheme
    /// `$method`
    case method
    /// `$uri`: the normalised path, before rewrites, without the query.
    case uri
    /// `$request_uri`: the target as the client sent it.
    case requestURI
    /// `$args`: the query, without `?`.
    case args
    /// `$identity`: who `auth` says the caller is.
    case identity
    /// `$status`: the answer's status (responses only).
    case status
    /// `$0`…`$9`: a capture of `rewrite`'s regular expression.
    case capture(Int)
    /// `$param_NAME`: a path parameter of the route's `match`.
    case param(String)
    /// `$http_NAME`: a request header (`_` for `-`).
    case header(String)

    /// A value the gateway made or checked itself (an address, its request id, a name from the configuration, a
    /// status): it has no control characters, so rendering need not look.
    var isClean: Bool {
        switch self {
        case .clientIP, .remoteAddress, .requestID, .route, .upstream, .upstreamServer, .zone, .scheme, .method, .status:
            true
        case .host, .uri, .requestURI, .args, .identity, .capture, .param, .header:
            false
        }
    }

    static let names: [(String, FilterVariable)] = [
        ("client_ip", .clientIP), ("remote_addr", .remoteAddress), ("request_id", .requestID), ("route", .route),
        ("upstream_server", .upstreamServer), ("upstream", .upstream), ("zone", .zone), ("host", .host),
        ("scheme", .scheme), ("method", .method), ("request_uri", .requestURI), ("uri", .uri), ("args", .args),
        ("identity", .identity), ("status", .status),
    ]

    static let known = "$client_ip, $remote_addr, $request_id, $route, $upstream, $upstream_server, $zone, $host, "
        + "$scheme, $method, $uri, $request_uri, $args, $identity, $status, $0..$9, $param_NAME and $http_NAME"

    /// The variable a name stands for (`client_ip`, `param_id`, `http_user_agent`, `1`).
    static func named(_ name: Substring) -> FilterVariable? {
        if let found = names.first(where: { $0.0 == name }) { return found.1 }
        if name.count == 1, let digit = name.first?.wholeNumberValue { return .capture(digit) }
        if name.hasPrefix("param_"), name.count > 6 { return .param(String(name.dropFirst(6))) }
        if name.hasPrefix("http_"), name.count > 5 {
            return .header(String(name.dropFirst(5)).lowercased().replacing("_", with: "-"))
        }
        return nil
    }
}

/// A value with variables (`X-User $param_id from ${client_ip}`), parsed once at load. `$$` is a dollar sign.
/// Rendering never lets a control character out of a variable (a CR or LF in a header would split it).
public struct Template: Hashable, Sendable {
    enum Piece: Hashable, Sendable {
        case text(String)
        case variable(FilterVariable)
    }

    let pieces: [Piece]
    /// The value as written.
    public let text: String

    public init(parsing text: some StringProtocol) throws(FilterSyntaxError) {
        self.text = String(text)
        var pieces: [Piece] = []
        var literal = ""
        var index = text.startIndex
        while index < text.endIndex {
            let character = text[index]
            guard character == "$" else {
                literal.append(character)
                index = text.index(after: index)
                continue
            }
            let next = text.index(after: index)
            guard next < text.endIndex else {
                throw FilterSyntaxError(expected: "a variable after '$' (\(FilterVariable.known)); $$ for a dollar", got: text)
            }
            if text[next] == "$" {
                literal.append("$")
                index = text.index(after: next)
                continue
            }
            var name: Substring
            if text[next] == "{" {
                guard let close = text[next...].firstIndex(of: "}") else {
                    throw FilterSyntaxError(expected: "a closing } after ${", got: text)
                }
                name = Substring(text[text.index(after: next)..<close])
                index = text.index(after: close)
            } else if text[next].isNumber {
                name = Substring(text[next...next])
                index = text.index(after: next)
            } else {
                var end = next
                while end < text.endIndex, text[end].isASCII, text[end].isLetter || text[end].isNumber || text[end] == "_" {
                    end = text.index(after: end)
                }
                name = Substring(text[next..<end])
                index = end
            }
            guard let variable = FilterVariable.named(name) else {
                throw FilterSyntaxError(expected: "a known variable (\(FilterVariable.known))", got: "$" + name)
            }
            if !literal.isEmpty { pieces.append(.text(literal)) }
            literal = ""
            pieces.append(.variable(variable))
        }
        if !literal.isEmpty || pieces.isEmpty { pieces.append(.text(literal)) }
        self.pieces = pieces
    }

    /// Whether the value has no variables.
    public var isConstant: Bool { !pieces.contains { if case .variable = $0 { true } else { false } } }

    public var variables: [FilterVariable] {
        pieces.compactMap { if case .variable(let variable) = $0 { variable } else { nil } }
    }

    /// Whether it uses `$0`…`$9`.
    public var usesCaptures: Bool { variables.contains { if case .capture = $0 { true } else { false } } }

    /// The value for one request: each variable's value (nil renders as nothing), without control characters.
    public func render(_ value: (FilterVariable) -> String?) -> String {
        if pieces.count == 1 {
            switch pieces[0] {
            case .text(let text): return text
            case .variable(let variable):
                guard let text = value(variable) else { return "" }
                return variable.isClean ? text : Self.headerSafe(text)
            }
        }
        var result = ""
        for piece in pieces {
            switch piece {
            case .text(let text): result += text
            case .variable(let variable):
                guard let text = value(variable) else { continue }
                result += variable.isClean ? text : Self.headerSafe(text)
            }
        }
        return result
    }

    /// `text` without control characters (TAB kept): what may go into a header value.
    public static func headerSafe(_ text: String) -> String {
        guard text.utf8.contains(where: FilterText.isControl) else { return text }
        return String(decoding: text.utf8.filter { !FilterText.isControl($0) }, as: UTF8.self)
    }

    public static func == (a: Template, b: Template) -> Bool { a.text == b.text }
    public func hash(into hasher: inout Hasher) { hasher.combine(text) }
}
