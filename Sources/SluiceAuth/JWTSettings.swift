/// What a JWT must say, besides being signed by a known key, to be accepted.
public struct JWTSettings: Hashable, Sendable {
    /// When set, `iss` must equal it.
    public var issuer: String?
    /// When not empty, `aud` (a string or an array of strings) must contain one of these.
    public var audiences: [String]
    /// Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds.
    public var leewaySeconds: Int
    /// Claims that must be present (not null), whatever their value.
    public var requiredClaims: [String]
    /// The claim that names the caller (a string, or a number); it must be present.
    public var identityClaim: String

    public init(
        issuer: String? = nil,
        audiences: [String] = [],
        leewaySeconds: Int = 30,
        requiredClaims: [String] = [],
        identityClaim: String = "sub"
    ) {
        self.issuer = issuer
        self.audiences = audiences
        self.leewaySeconds = leewaySeconds
        self.requiredClaims = requiredClaims
        self.identityClaim = identityClaim
    }
}

/// The outcome of verifying a JWT.
public enum JWTVerdict: Sendable, Equatable {
    case valid(JWTIdentity)
    /// A short reason, fit for a log line and a `WWW-Authenticate` `error_description`: "malformed",
    /// "unsupported algorithm", "unsupported header", "unknown key", "bad signature", "expired", "not yet valid",
    /// "wrong issuer", "wrong audience", "missing claim NAME", "invalid claim NAME".
    case invalid(String)
}

/// Who a valid JWT says the caller is.
public struct JWTIdentity: Sendable, Equatable {
    /// The value of the settings' identity claim (a number is printed).
    public let identity: String
    /// The token's top-level claims as text: strings as they are, numbers and booleans printed, arrays of such
    /// values joined by ","; objects, nulls and arrays holding objects or arrays are left out.
    public let claims: [String: String]
    /// `exp`, in seconds since 1970, when the token has one.
    public let expires: Double?

    public init(identity: String, claims: [String: String], expires: Double?) {
        self.identity = identity
        self.claims = claims
        self.expires = expires
    }
}
