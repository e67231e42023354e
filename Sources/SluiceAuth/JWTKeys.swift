import JWTKit

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One key of a JWT keys file, with the algorithms it may verify.
///
/// Each algorithm has its own jwt-kit verifier, made once at load: the token's `alg` picks among them and can never
/// make a key act as another type (an RSA public key used as an HMAC secret, or `none`).
struct JWTVerificationKey: Sendable {
    /// The key's `kid`; PEM keys have none.
    let kid: String?
    /// Verifiers by JWS `alg` name.
    let verifiers: [String: any JWTAlgorithm]
}

/// A public key (or HMAC secret) read from a keys file, before its verifiers are made.
enum JWTKeyMaterial: Sendable {
    case rsa(Insecure.RSA.PublicKey)
    case p256(ES256PublicKey)
    case p384(ES384PublicKey)
    case p521(ES512PublicKey)
    case ed25519(EdDSA.PublicKey)
    case hmac([UInt8])

    var kind: String {
        switch self {
        case .rsa: "an RSA key"
        case .p256: "a P-256 key"
        case .p384: "a P-384 key"
        case .p521: "a P-521 key"
        case .ed25519: "an Ed25519 key"
        case .hmac: "an HMAC key"
        }
    }

    /// The JWS algorithms (RFC 7518, RFC 8037, RFC 9864's `Ed25519`) this key can verify. An HMAC key must be at
    /// least as long as the hash's output (RFC 7518 §3.2).
    var algorithms: [String] {
        switch self {
        case .rsa: ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"]
        case .p256: ["ES256"]
        case .p384: ["ES384"]
        case .p521: ["ES512"]
        case .ed25519: ["EdDSA", "Ed25519"]
        case .hmac(let secret):
            [("HS256", 32), ("HS384", 48), ("HS512", 64)].filter { secret.count >= $0.1 }.map(\.0)
        }
    }

    /// A jwt-kit verifier of `algorithm` with this key (one of ``algorithms``).
    func verifier(for algorithm: String) async throws -> any JWTAlgorithm {
        // jwt-kit makes its algorithm objects only inside a key collection; a collection per key and algorithm hands
        // back exactly the verifier asked for.
        let collection = JWTKeyCollection()
        switch (self, algorithm) {
        case (.rsa(let key), "RS256"): await collection.add(rsa: key, digestAlgorithm: .sha256)
        case (.rsa(let key), "RS384"): await collection.add(rsa: key, digestAlgorithm: .sha384)
        case (.rsa(let key), "RS512"): await collection.add(rsa: key, digestAlgorithm: .sha512)
        case (.rsa(let key), "PS256"): await collection.add(pss: key, digestAlgorithm: .sha256)
        case (.rsa(let key), "PS384"): await collection.add(pss: key, digestAlgorithm: .sha384)
        case (.rsa(let key), "PS512"): await collection.add(pss: key, digestAlgorithm: .sha512)
        case (.p256(let key), "ES256"): await collection.add(ecdsa: key)
        case (.p384(let key), "ES384"): await collection.add(ecdsa: key)
        case (.p521(let key), "ES512"): await collection.add(ecdsa: key)
        case (.ed25519(let key), "EdDSA"), (.ed25519(let key), "Ed25519"): await collection.add(eddsa: key)
        case (.hmac(let secret), "HS256"): await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        case (.hmac(let secret), "HS384"): await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha384)
        case (.hmac(let secret), "HS512"): await collection.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha512)
        default: throw KeyProblem("\(algorithm) does not fit \(kind)")
        }
        let verifier = try await collection.getKey()
        let expected = algorithm == "Ed25519" ? "EdDSA" : algorithm
        guard verifier.name == expected else { throw KeyProblem("jwt-kit made \(verifier.name) for \(algorithm)") }
        return verifier
    }
}

struct KeyProblem: Error {
    var message: String
    init(_ message: String) { self.message = message }
}

/// Reading a keys file: a JWKS (or a single JWK) in JSON, or PEM blocks.
enum JWTKeysFile {
    static func load(_ contents: String) async throws(AuthFileError) -> [JWTVerificationKey] {
        let keys: [JWTVerificationKey]
        if contents.trimmingBlanks().first == "{" {
            keys = try await loadJWKS(contents)
        } else if contents.contains("-----BEGIN ") {
            keys = try await loadPEM(contents)
        } else {
            throw AuthFileError(message: "expected a JWKS (JSON, `{\"keys\": [...]}`) or PEM public keys")
        }
        guard !keys.isEmpty else { throw AuthFileError(message: "no signature keys in the file") }
        return keys
    }

    // MARK: JWKS

    /// The JWK members read (RFC 7517, RFC 7518 §6); others are ignored.
    private struct JWKFields: Decodable {
        var kty: String?
        var kid: String?
        var alg: String?
        var use: String?
        var keyOperations: [String]?
        var crv: String?
        var n: String?
        var e: String?
        var x: String?
        var y: String?
        var k: String?
        var d: String?

        enum CodingKeys: String, CodingKey {
            case kty, kid, alg, use, crv, n, e, x, y, k, d
            case keyOperations = "key_ops"
        }
    }

    private struct JWKSFields: Decodable {
        var keys: [JWKFields]
    }

    private static func loadJWKS(_ contents: String) async throws(AuthFileError) -> [JWTVerificationKey] {
        let data = Data(contents.utf8)
        let jwks: [JWKFields]
        if let set = try? JSONDecoder().decode(JWKSFields.self, from: data) {
            jwks = set.keys
        } else if let single = try? JSONDecoder().decode(JWKFields.self, from: data), single.kty != nil {
            jwks = [single]
        } else {
            throw AuthFileError(message: "not a JWKS: invalid JSON, or no `keys` array of JWK objects")
        }
        var keys: [JWTVerificationKey] = []
        for (index, jwk) in jwks.enumerated() {
            let name = "key \(index + 1)" + (jwk.kid.map { " (kid `\($0)`)" } ?? "")
            do {
                if let key = try await verificationKey(jwk) { keys.append(key) }
            } catch {
                throw AuthFileError(message: "\(name): \(error.message)")
            }
        }
        return keys
    }

    /// The key a JWK describes, or nil for a key that is not for signatures (`use` other than `sig`, `key_ops`
    /// without `verify`, a JWE `alg`): a JWKS published by an identity provider may list encryption keys too.
    private static func verificationKey(_ jwk: JWKFields) async throws(KeyProblem) -> JWTVerificationKey? {
        if let use = jwk.use, use != "sig" { return nil }
        if let operations = jwk.keyOperations, !operations.contains("verify") { return nil }
        if let alg = jwk.alg, encryptionAlgorithmPrefixes.contains(where: alg.hasPrefix) { return nil }
        let material: JWTKeyMaterial
        switch jwk.kty {
        case "RSA":
            guard jwk.d == nil else { throw privateKeyProblem }
            guard let n = jwk.n, let e = jwk.e else { throw KeyProblem("an RSA key needs `n` and `e`") }
            guard let key = try? Insecure.RSA.PublicKey(modulus: n, exponent: e) else {
                throw KeyProblem("not a valid RSA public key of at least 2048 bits")
            }
            material = .rsa(key)
        case "EC":
            guard jwk.d == nil else { throw privateKeyProblem }
            guard let x = jwk.x, let y = jwk.y else { throw KeyProblem("an EC key needs `x` and `y`") }
            let key: JWTKeyMaterial?
            switch jwk.crv {
            case "P-256": key = (try? ES256PublicKey(parameters: (x, y))).map { .p256($0) }
            case "P-384": key = (try? ES384PublicKey(parameters: (x, y))).map { .p384($0) }
            case "P-521": key = (try? ES512PublicKey(parameters: (x, y))).map { .p521($0) }
            default: throw KeyProblem("unsupported EC curve `\(jwk.crv ?? "")` (P-256, P-384 or P-521)")
            }
            guard let key else { throw KeyProblem("`x`, `y` are not a point of \(jwk.crv ?? "")") }
            material = key
        case "OKP":
            guard jwk.d == nil else { throw privateKeyProblem }
            guard jwk.crv == "Ed25519" else { throw KeyProblem("unsupported OKP curve `\(jwk.crv ?? "")` (Ed25519)") }
            guard let x = jwk.x, let key = try? EdDSA.PublicKey(x: x, curve: .ed25519) else {
                throw KeyProblem("`x` is not an Ed25519 public key")
            }
            material = .ed25519(key)
        case "oct":
            guard let k = jwk.k, let secret = Base64.decode(k.utf8, alphabet: .url, padding: .optional) else {
                throw KeyProblem("an oct key needs `k`, base64url")
            }
            guard secret.count >= 32 else {
                throw KeyProblem("an HMAC key of \(secret.count) bytes is too short (at least 32)")
            }
            material = .hmac(secret)
        default:
            throw KeyProblem("unsupported key type `\(jwk.kty ?? "")` (RSA, EC, OKP or oct)")
        }
        var algorithms = material.algorithms
        if let alg = jwk.alg {
            guard algorithms.contains(alg) else {
                if case .hmac = material, alg.hasPrefix("HS") {
                    throw KeyProblem("`alg` \(alg) needs a longer HMAC key (as long as the hash)")
                }
                throw KeyProblem("`alg` \(alg) does not fit \(material.kind)")
            }
            algorithms = [alg]
        }
        return try await verificationKey(material, kid: jwk.kid, algorithms: algorithms)
    }

    /// Key-management algorithms of JWE (RFC 7518 §4): a key with one of these is for encryption.
    private static let encryptionAlgorithmPrefixes = [
        "RSA1_5", "RSA-OAEP", "ECDH-ES", "A128KW", "A192KW", "A256KW", "A128GCMKW", "A192GCMKW", "A256GCMKW", "dir",
        "PBES2",
    ]

    private static let privateKeyProblem = KeyProblem(
        "holds a private key (`d`); the keys file must hold public keys only")

    private static func verificationKey(
        _ material: JWTKeyMaterial, kid: String?, algorithms: [String]
    ) async throws(KeyProblem) -> JWTVerificationKey {
        var verifiers: [String: any JWTAlgorithm] = [:]
        for algorithm in algorithms {
            do {
                verifiers[algorithm] = try await material.verifier(for: algorithm)
            } catch let problem as KeyProblem {
                throw problem
            } catch {
                throw KeyProblem("jwt-kit refused it for \(algorithm): \(error)")
            }
        }
        return JWTVerificationKey(kid: kid, verifiers: verifiers)
    }

    // MARK: PEM

    private struct PEMBlock {
        var line: Int
        var label: Substring
        var text: String
    }

    private static func loadPEM(_ contents: String) async throws(AuthFileError) -> [JWTVerificationKey] {
        var keys: [JWTVerificationKey] = []
        for block in try pemBlocks(contents) {
            let material: JWTKeyMaterial
            do {
                material = try pemKey(block)
            } catch {
                throw AuthFileError(line: block.line, message: error.message)
            }
            do {
                keys.append(try await verificationKey(material, kid: nil, algorithms: material.algorithms))
            } catch {
                throw AuthFileError(line: block.line, message: error.message)
            }
        }
        return keys
    }

    /// The `-----BEGIN X-----` … `-----END X-----` blocks of the file; text between blocks is ignored.
    private static func pemBlocks(_ contents: String) throws(AuthFileError) -> [PEMBlock] {
        var blocks: [PEMBlock] = []
        var open: (line: Int, label: Substring, lines: [Substring])?
        let lines = contents.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" })
        for (index, raw) in lines.enumerated() {
            let text = raw.trimmingBlanks()
            if var block = open {
                block.lines.append(text)
                if text.hasPrefix("-----END ") {
                    guard text == "-----END \(block.label)-----" else {
                        throw AuthFileError(line: index + 1, message: "`\(text)` does not close `BEGIN \(block.label)`")
                    }
                    let text = block.lines.joined(separator: "\n")
                    blocks.append(PEMBlock(line: block.line, label: block.label, text: text))
                    open = nil
                } else {
                    open = block
                }
            } else if text.hasPrefix("-----BEGIN "), text.hasSuffix("-----"), text.count > 16 {
                let label = text.dropFirst("-----BEGIN ".count).dropLast("-----".count)
                open = (index + 1, label, [text])
            }
        }
        if let open {
            throw AuthFileError(line: open.line, message: "`BEGIN \(open.label)` without its END line")
        }
        return blocks
    }

    private static func pemKey(_ block: PEMBlock) throws(KeyProblem) -> JWTKeyMaterial {
        switch block.label {
        case "PUBLIC KEY":
            if let key = try? Insecure.RSA.PublicKey(pem: block.text) { return .rsa(key) }
            if let key = try? ES256PublicKey(pem: block.text) { return .p256(key) }
            if let key = try? ES384PublicKey(pem: block.text) { return .p384(key) }
            if let key = try? ES512PublicKey(pem: block.text) { return .p521(key) }
            if let key = try? EdDSA.PublicKey(pem: block.text) { return .ed25519(key) }
            throw KeyProblem(
                "not a public key of a supported kind (RSA of at least 2048 bits, EC P-256/P-384/P-521, Ed25519)")
        case "RSA PUBLIC KEY":
            guard let key = try? Insecure.RSA.PublicKey(pem: block.text) else {
                throw KeyProblem("not a valid RSA public key of at least 2048 bits")
            }
            return .rsa(key)
        case "CERTIFICATE":
            // Only the certificate's key is used: its dates, chain and usage are not checked.
            if let key = try? Insecure.RSA.PublicKey(certificatePEM: block.text) { return .rsa(key) }
            if let key = try? ES256PublicKey(certificate: block.text) { return .p256(key) }
            if let key = try? ES384PublicKey(certificate: block.text) { return .p384(key) }
            if let key = try? ES512PublicKey(certificate: block.text) { return .p521(key) }
            throw KeyProblem("not a certificate with an RSA (2048 bits or more) or EC P-256/P-384/P-521 key")
        case let label where label.hasSuffix("PRIVATE KEY"):
            throw KeyProblem("a private key (`\(label)`); the keys file must hold public keys only")
        default:
            throw KeyProblem("unsupported PEM block `\(block.label)` (PUBLIC KEY or CERTIFICATE expected)")
        }
    }
}
