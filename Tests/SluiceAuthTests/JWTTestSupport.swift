import Crypto
import Foundation
import JWTKit
import _CryptoExtras

/// A JSON value for the claims of test tokens.
enum TestJSON: Codable, Sendable, Equatable, ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    case null
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case array([TestJSON])
    case object([String: TestJSON])

    init(stringLiteral value: String) { self = .string(value) }
    init(integerLiteral value: Int) { self = .int(value) }
    init(floatLiteral value: Double) { self = .double(value) }
    init(booleanLiteral value: Bool) { self = .bool(value) }
    init(arrayLiteral elements: TestJSON...) { self = .array(elements) }
    init(dictionaryLiteral elements: (String, TestJSON)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int.self) {
            self = .int(value)
        } else if let value = try? container.decode(Double.self) {
            self = .double(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([TestJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: TestJSON].self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .string(let value): try container.encode(value)
        case .int(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    var json: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}

/// Any claims, as a jwt-kit payload (jwt-kit's own checks are not run: the verifier under test does them).
struct TestClaims: JWTPayload {
    var values: [String: TestJSON]

    init(_ values: [String: TestJSON]) { self.values = values }

    init(from decoder: any Decoder) throws {
        values = try decoder.singleValueContainer().decode([String: TestJSON].self)
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(values)
    }

    func verify(using algorithm: some JWTAlgorithm) async throws {}
}

func base64URL(_ bytes: some Sequence<UInt8>) -> String {
    Data(bytes).base64EncodedString()
        .replacingOccurrences(of: "+", with: "-")
        .replacingOccurrences(of: "/", with: "_")
        .replacingOccurrences(of: "=", with: "")
}

func base64URL(_ text: String) -> String { base64URL(Array(text.utf8)) }

/// Keys generated once per test run, and how to sign with them and publish them.
enum TestKey: Sendable, CustomStringConvertible {
    case rsa(JWTKit.Insecure.RSA.PrivateKey, alg: String)
    case p256(ES256PrivateKey)
    case p384(ES384PrivateKey)
    case ed25519(EdDSA.PrivateKey)
    case hmac([UInt8], alg: String)

    static let rsaKey = try! JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
    static let otherRSAKey = try! JWTKit.Insecure.RSA.PrivateKey(backing: _RSA.Signing.PrivateKey(keySize: .bits2048))
    static let p256Key = ES256PrivateKey()
    static let otherP256Key = ES256PrivateKey()
    static let p384Key = ES384PrivateKey()
    static let ed25519Key = try! EdDSA.PrivateKey()
    static let hmacSecret: [UInt8] = (0..<32).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }

    static let rs256 = TestKey.rsa(rsaKey, alg: "RS256")
    static let es256 = TestKey.p256(p256Key)
    static let eddsa = TestKey.ed25519(ed25519Key)
    static let hs256 = TestKey.hmac(hmacSecret, alg: "HS256")

    var description: String {
        switch self {
        case .rsa(_, let alg), .hmac(_, let alg): alg
        case .p256: "ES256"
        case .p384: "ES384"
        case .ed25519: "EdDSA"
        }
    }

    /// A token of `claims` signed with this key, with `kid` in its header when given.
    func sign(_ claims: [String: TestJSON], kid: String? = nil) async throws -> String {
        let collection = JWTKeyCollection()
        switch self {
        case .rsa(let key, let alg):
            let digest: DigestAlgorithm =
                switch alg.suffix(3) {
                case "384": .sha384
                case "512": .sha512
                default: .sha256
                }
            if alg.hasPrefix("PS") {
                await collection.add(pss: key, digestAlgorithm: digest)
            } else {
                await collection.add(rsa: key, digestAlgorithm: digest)
            }
        case .p256(let key): await collection.add(ecdsa: key)
        case .p384(let key): await collection.add(ecdsa: key)
        case .ed25519(let key): await collection.add(eddsa: key)
        case .hmac(let secret, let alg):
            let digest: DigestAlgorithm = alg == "HS512" ? .sha512 : alg == "HS384" ? .sha384 : .sha256
            await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: digest)
        }
        return try await collection.sign(TestClaims(claims), kid: kid.map { JWKIdentifier(string: $0) })
    }

    /// The public JWK (the secret for HMAC).
    func jwk(kid: String? = nil, alg: String? = nil, extra: [String: String] = [:]) -> [String: String] {
        var fields: [String: String]
        switch self {
        case .rsa(let key, _):
            let primitives = try! key.publicKey.getKeyPrimitives()
            fields = ["kty": "RSA", "n": base64URL(primitives.modulus), "e": base64URL(primitives.publicExponent)]
        case .p256(let key):
            let parameters = key.publicKey.parameters!
            fields = ["kty": "EC", "crv": "P-256", "x": parameters.x, "y": parameters.y]
        case .p384(let key):
            let parameters = key.publicKey.parameters!
            fields = ["kty": "EC", "crv": "P-384", "x": parameters.x, "y": parameters.y]
        case .ed25519(let key):
            fields = ["kty": "OKP", "crv": "Ed25519", "x": base64URL(key.publicKey.rawRepresentation)]
        case .hmac(let secret, _):
            fields = ["kty": "oct", "k": base64URL(secret)]
        }
        if let kid { fields["kid"] = kid }
        if let alg { fields["alg"] = alg }
        return fields.merging(extra, uniquingKeysWith: { $1 })
    }

    /// The public key as PEM (nil for HMAC).
    var pem: String? {
        switch self {
        case .rsa(let key, _): key.publicKey.pemRepresentation
        case .p256(let key): key.publicKey.pemRepresentation
        case .p384(let key): key.publicKey.pemRepresentation
        case .ed25519(let key): key.publicKey.pemRepresentation
        case .hmac: nil
        }
    }
}

func jwks(_ keys: [String: String]...) -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try! encoder.encode(["keys": keys]), as: UTF8.self)
}

/// A token put together by hand: `header` and `payload` JSON, signed with HS256 and `secret` (or not signed).
func handMadeToken(header: String, payload: String, hs256 secret: [UInt8]? = nil) -> String {
    let signingInput = base64URL(header) + "." + base64URL(payload)
    guard let secret else { return signingInput + "." }
    let mac = HMAC<SHA256>.authenticationCode(for: Array(signingInput.utf8), using: SymmetricKey(data: secret))
    return signingInput + "." + base64URL(Array(mac))
}
