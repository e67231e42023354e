import Crypto
import Foundation
import JWTKit
import Testing

@testable import SluiceAuth

@Suite struct JWTVerifierTests {
    static let now: Double = 1_750_000_000
    static let settings = JWTSettings(issuer: "https://issuer.example", audiences: ["sluice", "other"])

    static func claims(_ changes: [String: TestJSON?] = [:]) -> [String: TestJSON] {
        var claims: [String: TestJSON] = [
            "sub": "alice",
            "iss": "https://issuer.example",
            "aud": "sluice",
            "exp": .int(Int(now) + 600),
            "iat": .int(Int(now) - 10),
            "scope": "read write",
            "roles": ["admin", "dev"],
            "level": 3,
            "ratio": 0.5,
            "admin": true,
            "profile": ["name": "Alice"],
            "nothing": .null,
        ]
        for (name, value) in changes { claims[name] = value }
        return claims
    }

    func verdict(
        _ key: TestKey, claims: [String: TestJSON] = claims(), kid: String? = nil, keys: String,
        settings: JWTSettings = settings, now: Double = now
    ) async throws -> JWTVerdict {
        let verifier = try await JWTVerifier.load(keys: keys, settings: settings)
        return await verifier.verify(try await key.sign(claims, kid: kid), now: now)
    }

    // MARK: Valid tokens

    static let algorithms: [TestKey] = [
        .rs256, .rsa(TestKey.rsaKey, alg: "RS512"), .rsa(TestKey.rsaKey, alg: "PS256"), .es256,
        .p384(TestKey.p384Key), .eddsa, .hs256,
    ]

    @Test(arguments: algorithms)
    func validTokenFromJWKS(key: TestKey) async throws {
        let verifier = try await JWTVerifier.load(keys: jwks(key.jwk(kid: "k1")), settings: Self.settings)
        #expect(verifier.keyCount == 1)
        let token = try await key.sign(Self.claims(), kid: "k1")
        let verdict = await verifier.verify(token, now: Self.now)
        let expected = JWTIdentity(
            identity: "alice",
            claims: [
                "sub": "alice", "iss": "https://issuer.example", "aud": "sluice", "exp": "1750000600",
                "iat": "1749999990", "scope": "read write", "roles": "admin,dev", "level": "3", "ratio": "0.5",
                "admin": "true",
            ],
            expires: Self.now + 600)
        #expect(verdict == .valid(expected))
        // Without a kid, every key fitting the algorithm is tried.
        #expect(await verifier.verify(try await key.sign(Self.claims()), now: Self.now) == .valid(expected))
    }

    @Test(arguments: algorithms.filter { $0.pem != nil })
    func validTokenFromPEM(key: TestKey) async throws {
        let pem = try #require(key.pem)
        let verdict = try await verdict(key, kid: "whatever", keys: "# the issuer's key\n\(pem)\n")
        guard case .valid(let identity) = verdict else {
            Issue.record("expected a valid token, got \(verdict)")
            return
        }
        #expect(identity.identity == "alice")
    }

    @Test func severalPEMKeysInOneFile() async throws {
        let keys = [TestKey.rs256, .es256, .eddsa].compactMap(\.pem).joined(separator: "\n")
        let verifier = try await JWTVerifier.load(keys: keys, settings: Self.settings)
        #expect(verifier.keyCount == 3)
        for key in [TestKey.rs256, .rsa(TestKey.rsaKey, alg: "PS512"), .es256, .eddsa] {
            let verdict = await verifier.verify(try await key.sign(Self.claims()), now: Self.now)
            #expect(verdict != .invalid("bad signature"), "\(key)")
            #expect(verdict.identity == "alice", "\(key)")
        }
        // An HMAC token has no key here, whatever it was signed with.
        #expect(await verifier.verify(try await TestKey.hs256.sign(Self.claims()), now: Self.now) == .invalid("unsupported algorithm"))
    }

    @Test func otherPEMForms() async throws {
        let pkcs1 = """
            -----BEGIN RSA PUBLIC KEY-----
            MIIBCgKCAQEAwnD6592Wu+pPQwehzdAN5QIPV5ND6jZCxSbP8S0UaoMeBzYONCaW
            Vcms0koB95FnSm4vvjFu/HVhIfOaVbdMfcII4rMXGWivQkrrjJKN+CF2yb6zOgli
            37KA+xuQ14HfKf9X5JgciJcct+lCEDdUe4ModXgbTwkJQUPkFKXWb1nP48xIJgPZ
            iZf4hEj6QvyFyAC2bUWGGR3KPRMWOa7iy3IMbgzE2fd8kEEjefE5tddCigBPknBS
            wU0LSrKWgBuTJvoKPrTvIEmR4hXQuZelTbz1/QecPkQC0IReSbhHLrSqAzsBRSiE
            D4lG7ByJQgKeJ4H0DB3btyCq7BtetzlsjwIDAQAB
            -----END RSA PUBLIC KEY-----
            """
        let certificate = """
            -----BEGIN CERTIFICATE-----
            MIIBhzCCAS2gAwIBAgIUM8liXFiVCGwSq71cioy1B1+6UmswCgYIKoZIzj0EAwIw
            GTEXMBUGA1UEAwwOaXNzdWVyLmV4YW1wbGUwHhcNMjYxMjA1MDUwMDM0WhcNMzYx
            MjAyMDUwMDM0WjAZMRcwFQYDVQQDDA5pc3N1ZXIuZXhhbXBsZTBZMBMGByqGSM49
            AgEGCCqGSM49AwEHA0IABIwDVcWTrHVGvB2aMGvbhyyzeOknUrW3qwsMxE2yCBoW
            Zqn2Wk5Xx/ZDTOrunTrBUmzDFGwW7kOKsSs9/k72MDqjUzBRMB0GA1UdDgQWBBQ/
            wt7h25n1TInrnhxQ/mb35PqQijAfBgNVHSMEGDAWgBQ/wt7h25n1TInrnhxQ/mb3
            5PqQijAPBgNVHRMBAf8EBTADAQH/MAoGCCqGSM49BAMCA0gAMEUCIQDV18H+cCXm
            E8AoC6/rdzCS71Lht4h6mhDjbYwsZAhxhAIgZcH1PbvDX8jmytBwey475qiuQTla
            /AB3ANQeu4ZWLrk=
            -----END CERTIFICATE-----
            """
        let verifier = try await JWTVerifier.load(keys: "\(pkcs1)\n\n\(certificate)\r\n", settings: Self.settings)
        #expect(verifier.keyCount == 2)
        // A P-256 token signed by another key than the certificate's is refused.
        #expect(await verifier.verify(try await TestKey.es256.sign(Self.claims()), now: Self.now) == .invalid("bad signature"))
    }

    // MARK: Time claims

    @Test(arguments: [
        (-31, JWTVerdict.invalid("expired")),
        (-30, .invalid("expired")),
        (-29, nil),
        (600, nil),
    ] as [(Int, JWTVerdict?)])
    func expiryWithLeeway(offset: Int, expected: JWTVerdict?) async throws {
        let verdict = try await verdict(
            .es256, claims: Self.claims(["exp": .int(Int(Self.now) + offset)]), keys: jwks(TestKey.es256.jwk()))
        if let expected { #expect(verdict == expected) } else { #expect(verdict.identity == "alice") }
    }

    @Test func expiryWithoutLeeway() async throws {
        var settings = Self.settings
        settings.leewaySeconds = 0
        let keys = jwks(TestKey.es256.jwk())
        let atExpiry = try await verdict(.es256, claims: Self.claims(["exp": .int(Int(Self.now))]), keys: keys, settings: settings)
        #expect(atExpiry == .invalid("expired"))
        let fractional = try await verdict(.es256, claims: Self.claims(["exp": .double(Self.now + 0.5)]), keys: keys, settings: settings)
        #expect(fractional.identity == "alice")
    }

    @Test func expiryIsOptional() async throws {
        let verdict = try await verdict(.es256, claims: Self.claims(["exp": nil]), keys: jwks(TestKey.es256.jwk()))
        guard case .valid(let identity) = verdict else {
            Issue.record("expected a valid token, got \(verdict)")
            return
        }
        #expect(identity.expires == nil)
    }

    @Test(arguments: [
        ("nbf", 31, JWTVerdict.invalid("not yet valid")),
        ("nbf", 29, nil),
        ("nbf", -100, nil),
        ("iat", 31, .invalid("not yet valid")),
        ("iat", 29, nil),
    ] as [(String, Int, JWTVerdict?)])
    func notBeforeAndIssuedAt(claim: String, offset: Int, expected: JWTVerdict?) async throws {
        let verdict = try await verdict(
            .eddsa, claims: Self.claims([claim: .int(Int(Self.now) + offset)]), keys: jwks(TestKey.eddsa.jwk()))
        if let expected { #expect(verdict == expected) } else { #expect(verdict.identity == "alice") }
    }

    @Test(arguments: ["exp", "nbf", "iat"])
    func timeClaimsMustBeNumbers(claim: String) async throws {
        let verdict = try await verdict(.eddsa, claims: Self.claims([claim: "tomorrow"]), keys: jwks(TestKey.eddsa.jwk()))
        #expect(verdict == .invalid("invalid claim \(claim)"))
    }

    // MARK: Issuer, audience, required claims, identity

    @Test(arguments: [
        ("https://evil.example" as TestJSON?, JWTVerdict.invalid("wrong issuer")),
        (nil, .invalid("wrong issuer")),
        (["https://issuer.example"], .invalid("wrong issuer")),
        ("https://issuer.example", nil),
    ] as [(TestJSON?, JWTVerdict?)])
    func issuer(iss: TestJSON?, expected: JWTVerdict?) async throws {
        let verdict = try await verdict(.hs256, claims: Self.claims(["iss": iss]), keys: jwks(TestKey.hs256.jwk()))
        if let expected { #expect(verdict == expected) } else { #expect(verdict.identity == "alice") }
    }

    @Test(arguments: [
        ("someone-else" as TestJSON?, JWTVerdict.invalid("wrong audience")),
        (["a", "b"], .invalid("wrong audience")),
        (nil, .invalid("wrong audience")),
        ([], .invalid("wrong audience")),
        (42, .invalid("wrong audience")),
        ("other", nil),
        (["a", "other"], nil),
    ] as [(TestJSON?, JWTVerdict?)])
    func audience(aud: TestJSON?, expected: JWTVerdict?) async throws {
        let verdict = try await verdict(.rs256, claims: Self.claims(["aud": aud]), keys: jwks(TestKey.rs256.jwk()))
        if let expected { #expect(verdict == expected) } else { #expect(verdict.identity == "alice") }
    }

    @Test func noIssuerOrAudienceRequired() async throws {
        let settings = JWTSettings()
        let verdict = try await verdict(
            .hs256, claims: Self.claims(["iss": "anyone", "aud": nil]), keys: jwks(TestKey.hs256.jwk()), settings: settings)
        #expect(verdict.identity == "alice")
    }

    @Test func requiredClaims() async throws {
        var settings = Self.settings
        settings.requiredClaims = ["scope", "tenant"]
        let keys = jwks(TestKey.hs256.jwk())
        #expect(try await verdict(.hs256, keys: keys, settings: settings) == .invalid("missing claim tenant"))
        #expect(try await verdict(.hs256, claims: Self.claims(["tenant": .null]), keys: keys, settings: settings) == .invalid("missing claim tenant"))
        let present = try await verdict(.hs256, claims: Self.claims(["tenant": "acme"]), keys: keys, settings: settings)
        #expect(present.identity == "alice")
    }

    @Test(arguments: [
        (nil as TestJSON?, JWTVerdict.invalid("missing claim sub")),
        (.null, .invalid("missing claim sub")),
        ("", .invalid("invalid claim sub")),
        (["alice"], .invalid("invalid claim sub")),
        (true, .invalid("invalid claim sub")),
    ] as [(TestJSON?, JWTVerdict)])
    func identityClaimProblems(sub: TestJSON?, expected: JWTVerdict) async throws {
        #expect(try await verdict(.hs256, claims: Self.claims(["sub": sub]), keys: jwks(TestKey.hs256.jwk())) == expected)
    }

    @Test func identityFromANumberOrAnotherClaim() async throws {
        let keys = jwks(TestKey.hs256.jwk())
        #expect(try await verdict(.hs256, claims: Self.claims(["sub": 12345]), keys: keys).identity == "12345")
        var settings = Self.settings
        settings.identityClaim = "email"
        let byEmail = try await verdict(.hs256, claims: Self.claims(["sub": nil, "email": "a@example.com"]), keys: keys, settings: settings)
        #expect(byEmail.identity == "a@example.com")
        #expect(try await verdict(.hs256, keys: keys, settings: settings) == .invalid("missing claim email"))
    }

    // MARK: Signatures and algorithms

    @Test func tamperedPayloadIsRefused() async throws {
        let verifier = try await JWTVerifier.load(keys: jwks(TestKey.rs256.jwk()), settings: Self.settings)
        let token = try await TestKey.rs256.sign(Self.claims())
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        // Another identity, same signature.
        let forged = parts[0] + "." + base64URL(TestJSON.object(Self.claims(["sub": "mallory"])).json) + "." + parts[2]
        #expect(await verifier.verify(forged, now: Self.now) == .invalid("bad signature"))
        // One character of the payload changed.
        var payload = Array(parts[1].utf8)
        payload[10] = payload[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let flipped = parts[0] + "." + String(decoding: payload, as: UTF8.self) + "." + parts[2]
        #expect(await verifier.verify(flipped, now: Self.now) == .invalid("bad signature"))
    }

    @Test(arguments: [TestKey.rs256, .es256, .eddsa, .hs256])
    func tamperedSignatureIsRefused(key: TestKey) async throws {
        let verifier = try await JWTVerifier.load(keys: jwks(key.jwk()), settings: Self.settings)
        let token = try await key.sign(Self.claims())
        let parts = token.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        var signature = Array(parts[2].utf8)
        signature[5] = signature[5] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        let flipped = parts[0] + "." + parts[1] + "." + String(decoding: signature, as: UTF8.self)
        #expect(await verifier.verify(flipped, now: Self.now) == .invalid("bad signature"))
        // No signature at all.
        #expect(await verifier.verify(parts[0] + "." + parts[1] + ".", now: Self.now) == .invalid("bad signature"))
    }

    @Test func tokenOfAnotherKeyIsRefused() async throws {
        let keys = jwks(TestKey.rs256.jwk(kid: "main"), TestKey.es256.jwk(kid: "ec"))
        let otherRSA = TestKey.rsa(TestKey.otherRSAKey, alg: "RS256")
        #expect(try await verdict(otherRSA, kid: "main", keys: keys) == .invalid("bad signature"))
        #expect(try await verdict(otherRSA, keys: keys) == .invalid("bad signature"))
        #expect(try await verdict(.p256(TestKey.otherP256Key), kid: "ec", keys: keys) == .invalid("bad signature"))
        #expect(try await verdict(.hmac(Array(repeating: 7, count: 32), alg: "HS256"), keys: jwks(TestKey.hs256.jwk())) == .invalid("bad signature"))
    }

    @Test func algNoneIsRefused() async throws {
        let verifier = try await JWTVerifier.load(keys: jwks(TestKey.rs256.jwk(), TestKey.hs256.jwk()), settings: Self.settings)
        let payload = TestJSON.object(Self.claims()).json
        for header in [#"{"alg":"none","typ":"JWT"}"#, #"{"alg":"none","kid":"k"}"#, #"{"alg":"None"}"#, #"{"alg":"NONE"}"#, #"{"alg":""}"#] {
            let token = handMadeToken(header: header, payload: payload)
            #expect(await verifier.verify(token, now: Self.now) == .invalid("unsupported algorithm"), "\(header)")
            // Even with a signature that is valid for another algorithm.
            let signed = handMadeToken(header: header, payload: payload, hs256: TestKey.hmacSecret)
            #expect(await verifier.verify(signed, now: Self.now) == .invalid("unsupported algorithm"), "\(header)")
        }
    }

    @Test func hmacTokensAgainstRSAKeysAreRefused() async throws {
        let pem = try #require(TestKey.rs256.pem)
        for keys in [jwks(TestKey.rs256.jwk()), jwks(TestKey.rs256.jwk(kid: "k")), pem] {
            let verifier = try await JWTVerifier.load(keys: keys, settings: Self.settings)
            // The classic confusion: the RSA public key's own text used as the HMAC secret.
            for secret in [Array(pem.utf8), TestKey.hmacSecret] {
                for kid in [nil, "k"] {
                    let token = try await TestKey.hmac(secret, alg: "HS256").sign(Self.claims(), kid: kid)
                    #expect(await verifier.verify(token, now: Self.now) == .invalid("unsupported algorithm"))
                }
            }
            // And an ES256 token is no better.
            #expect(await verifier.verify(try await TestKey.es256.sign(Self.claims(), kid: "k"), now: Self.now) == .invalid("unsupported algorithm"))
        }
    }

    @Test func aJWKsAlgIsTheOnlyOneItAccepts() async throws {
        let keys = jwks(TestKey.rs256.jwk(alg: "RS256"))
        #expect(try await verdict(.rs256, keys: keys).identity == "alice")
        #expect(try await verdict(.rsa(TestKey.rsaKey, alg: "PS256"), keys: keys) == .invalid("unsupported algorithm"))
        #expect(try await verdict(.rsa(TestKey.rsaKey, alg: "RS512"), keys: keys) == .invalid("unsupported algorithm"))
    }

    @Test func hmacAlgorithmsNeedLongEnoughKeys() async throws {
        // A 32-byte secret does HS256 only; 64 bytes do all three.
        // (jwt-kit asserts a key as long as the hash when it signs, so this token is made by hand.)
        let verifier = try await JWTVerifier.load(keys: jwks(TestKey.hs256.jwk()), settings: Self.settings)
        let signingInput = base64URL(#"{"alg":"HS512"}"#) + "." + base64URL(TestJSON.object(Self.claims()).json)
        let mac = HMAC<SHA512>.authenticationCode(
            for: Array(signingInput.utf8), using: SymmetricKey(data: TestKey.hmacSecret))
        let token = signingInput + "." + base64URL(Array(mac))
        #expect(await verifier.verify(token, now: Self.now) == .invalid("unsupported algorithm"))
        let long = Array(repeating: UInt8(9), count: 64)
        for alg in ["HS256", "HS384", "HS512"] {
            let key = TestKey.hmac(long, alg: alg)
            #expect(try await verdict(key, keys: jwks(key.jwk())).identity == "alice")
        }
    }

    @Test func criticalHeadersAreRefused() async throws {
        let verifier = try await JWTVerifier.load(keys: jwks(TestKey.hs256.jwk()), settings: Self.settings)
        let payload = TestJSON.object(Self.claims()).json
        let plain = handMadeToken(header: #"{"alg":"HS256"}"#, payload: payload, hs256: TestKey.hmacSecret)
        #expect(await verifier.verify(plain, now: Self.now).identity == "alice")
        let critical = handMadeToken(header: #"{"alg":"HS256","crit":["b64"],"b64":false}"#, payload: payload, hs256: TestKey.hmacSecret)
        #expect(await verifier.verify(critical, now: Self.now) == .invalid("unsupported header"))
        // A key in the header is never used.
        let embedded = handMadeToken(
            header: #"{"alg":"HS256","jwk":{"kty":"oct","k":"\#(base64URL(Array(repeating: 1, count: 32)))"}}"#,
            payload: payload, hs256: Array(repeating: 1, count: 32))
        #expect(await verifier.verify(embedded, now: Self.now) == .invalid("bad signature"))
    }

    @Test func malformedTokens() async throws {
        let verifier = try await JWTVerifier.load(keys: jwks(TestKey.hs256.jwk()), settings: Self.settings)
        let payload = TestJSON.object(Self.claims()).json
        let good = try await TestKey.hs256.sign(Self.claims())
        let parts = good.split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        let tokens = [
            "", "abc", "a.b", "a.b.c.d", ".\(parts[1]).\(parts[2])", "!!!.\(parts[1]).\(parts[2])",
            "\(parts[0])=.\(parts[1]).\(parts[2])", "\(good).", " \(good)", "\(parts[0]).\(parts[1]).\(parts[2])!",
            handMadeToken(header: "{}", payload: payload, hs256: TestKey.hmacSecret),
            handMadeToken(header: "[1]", payload: payload, hs256: TestKey.hmacSecret),
            handMadeToken(header: #"{"alg":256}"#, payload: payload, hs256: TestKey.hmacSecret),
            handMadeToken(header: "not json", payload: payload, hs256: TestKey.hmacSecret),
            // Signed, but the payload is not a JSON object.
            handMadeToken(header: #"{"alg":"HS256"}"#, payload: "[1,2]", hs256: TestKey.hmacSecret),
            handMadeToken(header: #"{"alg":"HS256"}"#, payload: "sub=alice", hs256: TestKey.hmacSecret),
            "\(parts[0]).\(parts[1]).\(parts[2])" + String(repeating: "A", count: 17_000),
        ]
        for token in tokens {
            #expect(await verifier.verify(token, now: Self.now) == .invalid("malformed"), "\(token.prefix(80))")
        }
        #expect(await verifier.verify(good, now: Self.now).identity == "alice")
        #expect(await verifier.verify("x\(good)y".dropFirst().dropLast(), now: Self.now).identity == "alice")
    }

    // MARK: Key selection

    @Test func kidSelectsTheKey() async throws {
        let second = TestKey.rsa(TestKey.otherRSAKey, alg: "RS256")
        let keys = jwks(TestKey.rs256.jwk(kid: "a"), second.jwk(kid: "b"))
        #expect(try await verdict(second, kid: "b", keys: keys).identity == "alice")
        #expect(try await verdict(.rs256, kid: "a", keys: keys).identity == "alice")
        #expect(try await verdict(second, kid: "a", keys: keys) == .invalid("bad signature"))
        #expect(try await verdict(.rs256, kid: "b", keys: keys) == .invalid("bad signature"))
        #expect(try await verdict(second, kid: "c", keys: keys) == .invalid("unknown key"))
        // No kid: each key is tried.
        #expect(try await verdict(second, keys: keys).identity == "alice")
        #expect(try await verdict(.rs256, keys: keys).identity == "alice")
    }

    @Test func unknownKidFallsBackToKeysWithoutKid() async throws {
        let keys = jwks(TestKey.es256.jwk(), TestKey.rs256.jwk(kid: "a"))
        #expect(try await verdict(.es256, kid: "rotated", keys: keys).identity == "alice")
        #expect(try await verdict(.rs256, kid: "rotated", keys: keys) == .invalid("unsupported algorithm"))
        #expect(try await verdict(.es256, kid: "a", keys: keys) == .invalid("unsupported algorithm"))
    }

    // MARK: Keys files

    @Test func encryptionKeysAreSkipped() async throws {
        let keys = jwks(
            TestKey.rs256.jwk(kid: "enc", extra: ["use": "enc", "alg": "RSA-OAEP"]),
            TestKey.rs256.jwk(kid: "oaep", alg: "RSA-OAEP-256"),
            TestKey.es256.jwk(kid: "sig", extra: ["use": "sig"]))
        let verifier = try await JWTVerifier.load(keys: keys, settings: Self.settings)
        #expect(verifier.keyCount == 1)
        #expect(await verifier.verify(try await TestKey.rs256.sign(Self.claims(), kid: "enc"), now: Self.now) == .invalid("unknown key"))
        await #expect(throws: AuthFileError(message: "no signature keys in the file")) {
            try await JWTVerifier.load(keys: jwks(TestKey.rs256.jwk(extra: ["use": "enc"])), settings: Self.settings)
        }
        let encryptOnly = jwks(TestKey.rs256.jwk()).replacingOccurrences(of: #"{"e""#, with: #"{"key_ops":["encrypt"],"e""#)
        #expect(encryptOnly.contains("key_ops"))
        await #expect(throws: AuthFileError(message: "no signature keys in the file")) {
            try await JWTVerifier.load(keys: encryptOnly, settings: Self.settings)
        }
        let verifyToo = encryptOnly.replacingOccurrences(of: #"["encrypt"]"#, with: #"["encrypt","verify"]"#)
        #expect(try await JWTVerifier.load(keys: verifyToo, settings: Self.settings).keyCount == 1)
    }

    @Test func singleJWKIsAccepted() async throws {
        let encoder = JSONEncoder()
        let single = String(decoding: try encoder.encode(TestKey.eddsa.jwk()), as: UTF8.self)
        let verifier = try await JWTVerifier.load(keys: single, settings: Self.settings)
        #expect(await verifier.verify(try await TestKey.eddsa.sign(Self.claims()), now: Self.now).identity == "alice")
    }

    @Test(arguments: [
        ("", nil as Int?, "expected a JWKS (JSON, `{\"keys\": [...]}`) or PEM public keys"),
        ("{}", nil, "not a JWKS: invalid JSON, or no `keys` array of JWK objects"),
        ("{\"keys\": [", nil, "not a JWKS: invalid JSON, or no `keys` array of JWK objects"),
        ("{\"keys\": []}", nil, "no signature keys in the file"),
        (jwks(["kty": "RSA", "kid": "x"]), nil, "key 1 (kid `x`): an RSA key needs `n` and `e`"),
        (jwks(TestKey.hs256.jwk(), ["kty": "XYZ"]), nil, "key 2: unsupported key type `XYZ` (RSA, EC, OKP or oct)"),
        (jwks(["kty": "oct", "k": "c2hvcnQ"]), nil, "key 1: an HMAC key of 5 bytes is too short (at least 32)"),
        (jwks(TestKey.hs256.jwk(alg: "HS512")), nil, "key 1: `alg` HS512 needs a longer HMAC key (as long as the hash)"),
        (jwks(TestKey.rs256.jwk(alg: "ES256")), nil, "key 1: `alg` ES256 does not fit an RSA key"),
        (jwks(TestKey.rs256.jwk(alg: "none")), nil, "key 1: `alg` none does not fit an RSA key"),
        (jwks(TestKey.es256.jwk(alg: "HS256")), nil, "key 1: `alg` HS256 does not fit a P-256 key"),
        (jwks(TestKey.rs256.jwk(extra: ["d": "AQAB"])), nil, "key 1: holds a private key (`d`); the keys file must hold public keys only"),
        (jwks(TestKey.es256.jwk(extra: ["crv": "secp256k1"])), nil, "key 1: unsupported EC curve `secp256k1` (P-256, P-384 or P-521)"),
        (jwks(TestKey.es256.jwk(extra: ["crv": "P-384"])), nil, "key 1: `x`, `y` are not a point of P-384"),
        (jwks(TestKey.eddsa.jwk(extra: ["crv": "X25519"])), nil, "key 1: unsupported OKP curve `X25519` (Ed25519)"),
        (jwks(TestKey.rs256.jwk(extra: ["n": "AQAB"])), nil, "key 1: not a valid RSA public key of at least 2048 bits"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 1,
         "not a public key of a supported kind (RSA of at least 2048 bits, EC P-256/P-384/P-521, Ed25519)"),
        ("# keys\n\n-----BEGIN PUBLIC KEY-----\nAAAA\n", 3, "`BEGIN PUBLIC KEY` without its END line"),
        ("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END CERTIFICATE-----\n", 3,
         "`-----END CERTIFICATE-----` does not close `BEGIN PUBLIC KEY`"),
        ("x\n-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 2,
         "a private key (`PRIVATE KEY`); the keys file must hold public keys only"),
        ("-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", 1,
         "a private key (`EC PRIVATE KEY`); the keys file must hold public keys only"),
        ("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", 1,
         "unsupported PEM block `X509 CRL` (PUBLIC KEY or CERTIFICATE expected)"),
    ])
    func badKeysFiles(contents: String, line: Int?, message: String) async {
        await #expect(throws: AuthFileError(line: line, message: message)) {
            try await JWTVerifier.load(keys: contents, settings: Self.settings)
        }
    }

    @Test func privateKeyPEMIsRefused() async throws {
        let pem = TestKey.rsaKey.pemRepresentation
        let error = try await #require(throws: AuthFileError.self) {
            try await JWTVerifier.load(keys: (TestKey.es256.pem ?? "") + "\n" + pem, settings: Self.settings)
        }
        #expect(error.line == 5)
        #expect(error.message.hasSuffix("PRIVATE KEY`); the keys file must hold public keys only"))
    }

    @Test func settingsAreChecked() async {
        await #expect(throws: AuthFileError(message: "the identity claim is empty")) {
            try await JWTVerifier.load(keys: jwks(TestKey.hs256.jwk()), settings: JWTSettings(identityClaim: ""))
        }
        await #expect(throws: AuthFileError(message: "the leeway is negative (-1 s)")) {
            try await JWTVerifier.load(keys: jwks(TestKey.hs256.jwk()), settings: JWTSettings(leewaySeconds: -1))
        }
    }
}

extension JWTVerdict {
    /// The identity of a valid verdict (nil otherwise), for short expectations.
    var identity: String? {
        if case .valid(let identity) = self { identity.identity } else { nil }
    }
}
