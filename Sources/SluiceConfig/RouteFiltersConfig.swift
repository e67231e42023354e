public import SluiceFilters

/// The API-gateway filters of a `[route]`: what the gateway does to a request and its answer besides forwarding
/// it. Each runs in a fixed phase of the request path (see ARCHITECTURE.md): access control, CORS preflights and
/// authentication after routing, then the gates, then a direct answer or the rewrites, request headers and the
/// mirror; on the way back the response headers and CORS.
public struct RouteFiltersConfig: Sendable, Equatable {
    /// `strip_prefix`, `rewrite`, `add_prefix`, applied in that order to the normalised path.
    public var rewrite = PathRewrite()
    /// `request_header` lines, in order.
    public var requestHeaders: [HeaderRule] = []
    /// `response_header` lines, then `hide_header` names (as `remove` rules).
    public var responseHeaders: [HeaderRule] = []
    /// `return`: the route answers itself, without an upstream.
    public var directAnswer: DirectAnswer?
    /// `cors`.
    public var cors: CORSPolicy?
    /// `allow` and `deny`.
    public var access: AccessRules?
    /// `auth` and its companions.
    public var auth: AuthConfig?
    /// `mirror`.
    public var mirror: MirrorConfig?

    public init() {}

    /// Whether any filter is on (a route without filters skips the filter phases entirely).
    public var isEmpty: Bool {
        rewrite.isEmpty && requestHeaders.isEmpty && responseHeaders.isEmpty && directAnswer == nil && cors == nil
            && access == nil && auth == nil && mirror == nil
    }
}

/// `auth = jwt | api_key | basic | forward URL` on a route, with the keys its kind reads.
public struct AuthConfig: Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// `auth = jwt`: a bearer token verified against `jwt_keys`.
        case jwt(JWTAuthConfig)
        /// `auth = api_key`: a key from `api_keys`, read from a header or query parameter.
        case apiKey(file: String, sources: [CredentialSource])
        /// `auth = basic`: user and password checked against an htpasswd file.
        case basic(file: String, realm: String)
        /// `auth = forward URL`: an auth service decides (Traefik's ForwardAuth, nginx's `auth_request`).
        case forward(ForwardAuthConfig)
    }

    public var kind: Kind
    /// `auth_identity_header` (default `X-Auth-Identity`): the header that carries the identity upstream. The
    /// client's own value of it is always removed.
    public var identityHeader = "x-auth-identity"
    /// `auth_cache` (0...1h, default 30s): how long a verified credential is remembered; `auth_cache_size`
    /// (0...10^7, default 10000) how many. 0 turns the cache off. A JWT is never remembered past its `exp`.
    public var cacheFor = Duration.seconds(30)
    public var cacheSize = 10_000
    /// Where the `auth` line is (errors about its files name it).
    public var location: SourceLocation

    public init(kind: Kind, location: SourceLocation) {
        self.kind = kind
        self.location = location
    }

    /// The headers the gateway sets from the identity: removed from the client's request first.
    public var identityHeaders: [String] {
        var names = [identityHeader]
        switch kind {
        case .jwt(let jwt): names += jwt.claimHeaders.map(\.header)
        case .forward(let forward): names += forward.responseHeaders
        case .apiKey, .basic: break
        }
        return names
    }
}

/// Where a credential is read from.
public enum CredentialSource: Sendable, Hashable, CustomStringConvertible {
    case header(String)
    case query(String)
    case cookie(String)

    public var description: String {
        switch self {
        case .header(let name): "header:\(name)"
        case .query(let name): "query:\(name)"
        case .cookie(let name): "cookie:\(name)"
        }
    }
}

/// `auth = jwt` and the `jwt_*` keys.
public struct JWTAuthConfig: Sendable, Equatable {
    /// `jwt_keys`: a JWKS (JSON) or PEM public keys; reloaded on SIGHUP.
    public var keysFile: String
    /// `jwt_issuer`: the `iss` a token must carry.
    public var issuer: String?
    /// `jwt_audience`: a token's `aud` must name one of these.
    public var audiences: [String] = []
    /// `jwt_leeway` (0...10m, default 30s): clock skew allowed on `exp`, `nbf` and `iat`.
    public var leeway = Duration.seconds(30)
    /// `jwt_required_claims`: claims a token must carry.
    public var requiredClaims: [String] = []
    /// `jwt_identity_claim` (default `sub`): the claim that names the caller.
    public var identityClaim = "sub"
    /// `jwt_claim_header = CLAIM HEADER` lines: verified claims forwarded upstream.
    public var claimHeaders: [(claim: String, header: String)] = []
    /// `jwt_from` (default `header:Authorization`, as a bearer token): also `query:NAME` or `cookie:NAME`.
    public var sources: [CredentialSource] = [.header("authorization")]

    public init(keysFile: String) {
        self.keysFile = keysFile
    }

    public static func == (a: JWTAuthConfig, b: JWTAuthConfig) -> Bool {
        a.keysFile == b.keysFile && a.issuer == b.issuer && a.audiences == b.audiences && a.leeway == b.leeway
            && a.requiredClaims == b.requiredClaims && a.identityClaim == b.identityClaim
            && a.claimHeaders.map(\.claim) == b.claimHeaders.map(\.claim)
            && a.claimHeaders.map(\.header) == b.claimHeaders.map(\.header) && a.sources == b.sources
    }
}

/// `auth = forward URL` and the `forward_auth_*` keys.
public struct ForwardAuthConfig: Sendable, Equatable {
    /// The auth service: `http://HOST:PORT/PATH`.
    public var host: String
    public var port: Int
    public var path: String
    /// `forward_auth_timeout` (1ms...1m, default 1s): for the whole exchange with the auth service.
    public var timeout = Duration.seconds(1)
    /// `forward_auth_request_headers` (default Authorization, Cookie): client headers sent to the auth service,
    /// besides `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri` and `-For`.
    public var requestHeaders = ["authorization", "cookie"]
    /// `forward_auth_response_headers`: headers of the auth service's 2xx copied to the upstream request.
    public var responseHeaders: [String] = []
    /// `forward_auth_identity_header`: the auth service's header that names the caller (its value is the identity).
    public var identityHeader: String?
    /// `auth_failure = deny | allow`: what happens when the auth service cannot be reached or answers 5xx.
    public var failOpen = false

    public init(host: String, port: Int, path: String) {
        self.host = host
        self.port = port
        self.path = path
    }

    public var address: String { HostPort.format(host: host, port: port) }
}

/// `mirror = UPSTREAM percent=10 max_body=64k max_in_flight=100`: copies of requests sent to a shadow upstream,
/// fire and forget; its answers are discarded and counted, and it never delays or fails the real request.
public struct MirrorConfig: Sendable, Equatable {
    public var upstream: String
    /// `percent` (0...100, default 100): the share of requests mirrored.
    public var share = 1.0
    /// `max_body` (0...16m, default 64k): requests with a larger body are not mirrored (bodies are copied whole).
    public var maxBody = 64 * 1024
    /// `max_in_flight` (1...100000, default 100) per event loop: copies beyond it are dropped and counted.
    public var maxInFlight = 100

    public init(upstream: String) {
        self.upstream = upstream
    }
}
