import JWTKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Verifies JWTs (compact JWS, RFC 7515/7519) against the keys of a keys file, with the checks of ``JWTSettings``.
///
/// The keys file is a JWKS (`{"keys": [...]}`: RSA, EC P-256/P-384/P-521, OKP Ed25519, oct for HS256/384/512) or
/// PEM blocks (`PUBLIC KEY`, `RSA PUBLIC KEY`, `CERTIFICATE`). Signatures are checked by jwt-kit's algorithms; the
/// choice of key and algorithm is made here, and strictly:
/// - `alg` must be a signature algorithm the chosen key's type fits (`none` never is; an RSA key never verifies
///   HS256; a JWK's own `alg`, when it has one, is the only one it accepts);
/// - a token with a `kid` is checked against the keys with that `kid`, or, when none has it, against the keys
///   without a `kid` (PEM keys); a token without `kid` against every key fitting its `alg`;
/// - header keys that would bring their own key (`jwk`, `jku`, `x5u`, `x5c`) are ignored, and a `crit` header is
///   refused (no extension is understood).
///
/// Claims are checked after the signature: `exp` (when present), `nbf` and an `iat` in the future with
/// ``JWTSettings/leewaySeconds``, `iss`, `aud`, the required claims and the identity claim. The current time is
/// passed in: verification never reads a clock.
public final class JWTVerifier: Sendable {
    /// Tokens longer than this are refused unread ("malformed").
    static let maximumTokenLength = 16 * 1024

    private static let signatureAlgorithms: Set<String> = [
        "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519",
        "HS256", "HS384", "HS512",
    ]

    private let keys: [JWTVerificationKey]
    private let settings: JWTSettings

    private init(keys: [JWTVerificationKey], settings: JWTSettings) {
        self.keys = keys
        self.settings = settings
    }

    /// Reads a keys file (a JWKS or PEM blocks) and makes a verifier of tokens with `settings`.
    ///
    /// Throws when the file holds no usable key, a private key, a key too weak (RSA under 2048 bits, an HMAC secret
    /// under 32 bytes) or of an unsupported kind, or when `settings` cannot be met (an empty identity claim, a
    /// negative leeway). Keys marked for encryption only (`use` other than `sig`) are skipped.
    public static func load(keys contents: String, settings: JWTSettings) async throws(AuthFileError) -> JWTVerifier {
        guard !settings.identityClaim.isEmpty else { throw AuthFileError(message: "the identity claim is empty") }
        guard settings.leewaySeconds >= 0 else {
            throw AuthFileError(message: "the leeway is negative (\(settings.leewaySeconds) s)")
        }
        return JWTVerifier(keys: try await JWTKeysFile.load(contents), settings: settings)
    }

    /// How many keys the verifier holds.
    public var keyCount: Int { keys.count }

    /// Verifies `token` (the compact serialisation, without `Bearer `) at time `now` (seconds since 1970).
    public func verify(_ token: some StringProtocol, now: Double) async -> JWTVerdict {
        verdict(Array(token.utf8), now: now)
    }

    private struct Header: Decodable {
        var alg: String?
        var kid: String?
        var crit: JSONValue?
    }

    func verdict(_ token: [UInt8], now: Double) -> JWTVerdict {
        let period = UInt8(ascii: ".")
        guard token.count <= Self.maximumTokenLength,
            let firstPeriod = token.firstIndex(of: period),
            let secondPeriod = token[(firstPeriod + 1)...].firstIndex(of: period),
            !token[(secondPeriod + 1)...].contains(period),
            let headerBytes = Base64.decode(token[..<firstPeriod], alphabet: .url, padding: .forbidden),
            let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)),
            let alg = header.alg
        else { return .invalid("malformed") }

        guard Self.signatureAlgorithms.contains(alg) else { return .invalid("unsupported algorithm") }
        guard header.crit == nil else { return .invalid("unsupported header") }

        var candidates = keys
        if let kid = header.kid {
            candidates = keys.filter { $0.kid == kid }
            if candidates.isEmpty { candidates = keys.filter { $0.kid == nil } }
            if candidates.isEmpty { return .invalid("unknown key") }
        }
        let verifiers = candidates.compactMap { $0.verifiers[alg] }
        guard !verifiers.isEmpty else { return .invalid("unsupported algorithm") }

        guard let signature = Base64.decode(token[(secondPeriod + 1)...], alphabet: .url, padding: .forbidden) else {
            return .invalid("malformed")
        }
        let signingInput = token[..<secondPeriod]
        guard !signature.isEmpty,
            verifiers.contains(where: { (try? $0.verify(signature, signs: signingInput)) == true })
        else { return .invalid("bad signature") }

        guard
            let payloadBytes = Base64.decode(
                token[(firstPeriod + 1)..<secondPeriod], alphabet: .url, padding: .forbidden),
            let claims = try? JSONDecoder().decode([String: JSONValue].self, from: Data(payloadBytes))
        else { return .invalid("malformed") }
        return verdict(claims: claims, now: now)
    }

    /// The checks on a signed token's claims.
    func verdict(claims: [String: JSONValue], now: Double) -> JWTVerdict {
        let leeway = Double(settings.leewaySeconds)
        // NumericDates: seconds since 1970, possibly fractional (RFC 7519 §2).
        var times: [String: Double] = [:]
        for name in ["exp", "nbf", "iat"] {
            let value = claims[name] ?? .null
            guard value != .null else { continue }
            guard let seconds = value.number else { return .invalid("invalid claim \(name)") }
            times[name] = seconds
        }
        let expires = times["exp"]
        if let expires, now >= expires + leeway { return .invalid("expired") }
        if let notBefore = times["nbf"], now + leeway < notBefore { return .invalid("not yet valid") }
        if let issuedAt = times["iat"], now + leeway < issuedAt { return .invalid("not yet valid") }

        if let issuer = settings.issuer, claims["iss"] != .string(issuer) { return .invalid("wrong issuer") }
        if !settings.audiences.isEmpty {
            let audience: [String] =
                switch claims["aud"] {
                case .string(let value): [value]
                case .array(let values): values.compactMap { if case .string(let value) = $0 { value } else { nil } }
                default: []
                }
            guard audience.contains(where: settings.audiences.contains) else { return .invalid("wrong audience") }
        }
        for name in settings.requiredClaims where (claims[name] ?? .null) == .null {
            return .invalid("missing claim \(name)")
        }

        let identity: String
        switch claims[settings.identityClaim] {
        case nil, .null?:
            return .invalid("missing claim \(settings.identityClaim)")
        case .string(let value)?:
            identity = value
        case .integer?, .number?:
            identity = claims[settings.identityClaim]?.scalarText ?? ""
        default:
            return .invalid("invalid claim \(settings.identityClaim)")
        }
        guard !identity.isEmpty else { return .invalid("invalid claim \(settings.identityClaim)") }

        return .valid(
            JWTIdentity(identity: identity, claims: claims.compactMapValues(\.claimText), expires: expires))
    }
}
