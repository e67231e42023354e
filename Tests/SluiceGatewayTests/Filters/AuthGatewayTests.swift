import Crypto
import Foundation
import JWTKit
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceConfig
import SluiceServer
import SluiceTestSupport
import SluiceWeb
import Testing

@testable import SluiceGateway

/// `auth = api_key | basic | jwt | forward` through a running gateway with real clients.
@Suite(.serialized) struct AuthGatewayTests {
    static let aliceKey = "alice-key-0123456789abcdef"
    static let bobKey = "bob-key-0123456789abcdef"

    static var apiKeys: String {
        let digest = SHA256.hash(data: Data(bobKey.utf8)).map { String(format: "%02x", $0) }.joined()
        return "# consumers\n\(aliceKey) alice\nsha256:\(digest) bob\n"
    }

    @Test func apiKeysPassWithTheirIdentityAndLimitPerIdentity() async throws {
        try await FilterFixture.with("""
            [route keyed]
            match = /k/*rest
            upstream = rec
            auth = api_key
            api_keys = {dir}/keys
            api_key_from = header:X-API-Key, query:api_key
            auth_identity_header = X-Consumer
            rate_limit = 2/m burst=2 key=identity
            """, files: ["keys": Self.apiKeys]) { gateway in
            let missing = try await gateway.request("/k/a")
            #expect(missing.status == 401)
            #expect(missing.header("www-authenticate") != nil)
            #expect(try await gateway.request("/k/a", headers: [("X-API-Key", "wrong-key-0123456789")]).status == 401)
            #expect(gateway.upstream.requests.isEmpty)

            let alice = try await gateway.request("/k/a", headers: [("X-API-Key", Self.aliceKey), ("X-Consumer", "root")])
            #expect(alice.status == 200)
            #expect(gateway.last?.header("x-consumer") == "alice", "the client's own X-Consumer is never believed")
            #expect(gateway.last?.headers.filter { $0.name.lowercased() == "x-consumer" }.count == 1)
            let bob = try await gateway.request("/k/b?api_key=\(Self.bobKey)")
            #expect(bob.status == 200)
            #expect(gateway.last?.header("x-consumer") == "bob", "a key kept hashed at rest")
            _ = try await gateway.request("/k/a", headers: [("X-API-Key", Self.aliceKey)])
            #expect(try await gateway.request("/k/a", headers: [("X-API-Key", Self.aliceKey)]).status == 429)
            #expect(
                try await gateway.request("/k/b", headers: [("X-API-Key", Self.bobKey)]).status == 200,
                "each identity has its own bucket")
        }
    }

    @Test func basicAuthWithBcryptAndShaCrypt() async throws {
        let sha = try await Command.run("/usr/bin/openssl", ["passwd", "-6", "-salt", "saltsalt", "other-pass"])
        let htpasswd = """
            carol:$2b$05$m8tu5HLCkNBzAnOfWIGif.kFDBrVCAXqxx5P.hJZfNa.f6ZXZHpU2
            dave:\(sha.stdout.trimmingCharacters(in: .whitespacesAndNewlines))
            """
        try await FilterFixture.with("""
            [route basic]
            match = /b/*rest
            upstream = rec
            auth = basic
            htpasswd = {dir}/htpasswd
            auth_realm = Staff
            """, files: ["htpasswd": htpasswd]) { gateway in
            let url = "http://127.0.0.1:\(gateway.port)/b/x"
            let none = try await gateway.curl([url])
            #expect(none.hasPrefix("HTTP/1.1 401"))
            #expect(none.lowercased().contains("www-authenticate: basic realm=\"staff\""))
            #expect(try await gateway.curl(["-u", "carol:s3cret-pass", url]).hasPrefix("HTTP/1.1 200"))
            #expect(gateway.last?.header("x-auth-identity") == "carol")
            #expect(try await gateway.curl(["-u", "carol:wrong", url]).hasPrefix("HTTP/1.1 401"))
            #expect(try await gateway.curl(["-u", "dave:other-pass", url]).hasPrefix("HTTP/1.1 200"))
            #expect(try await gateway.curl(["-u", "nobody:other-pass", url]).hasPrefix("HTTP/1.1 401"))
            #expect(gateway.upstream.requests.count == 2)
        }
    }

    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var exp: ExpirationClaim
        var aud: AudienceClaim
        var iss: IssuerClaim
        var scope: String

        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    @Test func jwtVerifiedAgainstAPEMKey() async throws {
        let key = P256.Signing.PrivateKey()
        let other = P256.Signing.PrivateKey()
        let keys = JWTKeyCollection()
        await keys.add(ecdsa: try ES256PrivateKey(pem: key.pemRepresentation), kid: "main")
        let strangers = JWTKeyCollection()
        await strangers.add(ecdsa: try ES256PrivateKey(pem: other.pemRepresentation), kid: "main")
        func token(
            sub: String = "user-1", expires: Date = Date().addingTimeInterval(300), audience: String = "api",
            issuer: String = "https://auth.test/", with collection: JWTKeyCollection? = nil
        ) async throws -> String {
            try await (collection ?? keys).sign(
                Claims(
                    sub: .init(value: sub), exp: .init(value: expires), aud: .init(value: [audience]),
                    iss: .init(value: issuer), scope: "read write"), kid: "main")
        }
        try await FilterFixture.with("""
            [route jwt]
            match = /j/*rest
            upstream = rec
            auth = jwt
            jwt_keys = {dir}/key.pem
            jwt_issuer = https://auth.test/
            jwt_audience = api
            jwt_leeway = 5s
            jwt_required_claims = scope
            jwt_claim_header = scope X-Scope
            """, files: ["key.pem": key.publicKey.pemRepresentation]) { gateway in
            let good = try await token()
            let response = try await gateway.request("/j/x", headers: [("Authorization", "Bearer \(good)")])
            #expect(response.status == 200)
            #expect(gateway.last?.header("x-auth-identity") == "user-1")
            #expect(gateway.last?.header("x-scope") == "read write")
            // Remembered: the same token again passes from the cache.
            #expect(try await gateway.request("/j/x", headers: [("Authorization", "Bearer \(good)")]).status == 200)

            func refused(_ token: String) async throws -> SluiceTestSupport.TestResponse {
                try await gateway.request("/j/x", headers: [("Authorization", "Bearer \(token)")])
            }
            let expired = try await refused(try await token(expires: Date().addingTimeInterval(-60)))
            #expect(expired.status == 401)
            #expect(expired.header("www-authenticate")?.contains("invalid_token") == true)
            #expect(try await refused(try await token(audience: "other")).status == 401)
            #expect(try await refused(try await token(issuer: "https://evil/")).status == 401)
            #expect(try await refused(try await token(with: strangers)).status == 401)
            var tampered = Array(good.utf8)
            let dot = tampered.firstIndex(of: UInt8(ascii: "."))!
            tampered[dot + 3] = tampered[dot + 3] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            #expect(try await refused(String(decoding: tampered, as: UTF8.self)).status == 401)
            let header = Data(#"{"alg":"none","typ":"JWT"}"#.utf8).base64URLEncodedString()
            let payload = Data(#"{"sub":"admin","aud":"api","iss":"https://auth.test/","scope":"all","exp":4102444800}"#.utf8)
                .base64URLEncodedString()
            #expect(try await refused("\(header).\(payload).").status == 401, "alg none is never accepted")
            #expect(try await gateway.request("/j/x").status == 401)
            #expect(gateway.upstream.requests.count == 2)
        }
    }

    /// An auth service: `Bearer good` passes as alice; anything else is refused.
    static func startAuthService(calls: NIOLockedValueBox<Int>) async throws -> HTTPServer {
        let engine = Engine()
        try engine.get("/check") { c in
            calls.withLockedValue { $0 += 1 }
            switch c.header("authorization") {
            case "Bearer good":
                c.setHeader("x-user-id", "alice")
                c.setHeader("x-scopes", "read")
                c.text(.ok, "")
            default:
                c.setHeader("www-authenticate", "Bearer realm=\"auth\"")
                c.text(.unauthorized, "go away")
            }
        }
        let responder = engine.makeResponder()
        let server = HTTPServer(
            configuration: ServerConfiguration(host: "127.0.0.1", port: 0, maxBodySize: 1 << 20, serverName: nil),
            group: MultiThreadedEventLoopGroup.singleton, logger: .init(label: "test.auth")
        ) { channel in
            try channel.pipeline.syncOperations.addHandler(responder.makeHandler())
        }
        try await server.start()
        return server
    }

    @Test func forwardAuthAsksTheServiceAndCachesItsYes() async throws {
        let calls = NIOLockedValueBox(0)
        let service = try await Self.startAuthService(calls: calls)
        let dead = try await deadPort()
        try await FilterFixture.with("""
            [route fwd]
            match = /f/*rest
            upstream = rec
            auth = forward http://127.0.0.1:\(service.port!)/check
            forward_auth_response_headers = X-User-Id, X-Scopes
            forward_auth_identity_header = X-User-Id
            auth_cache = 1m

            [route down]
            match = /down/*rest
            upstream = rec
            auth = forward http://127.0.0.1:\(dead)/check
            forward_auth_timeout = 500ms

            [route open]
            match = /open/*rest
            upstream = rec
            auth = forward http://127.0.0.1:\(dead)/check
            auth_failure = allow
            """) { gateway in
            let ok = try await gateway.request("/f/x", headers: [("Authorization", "Bearer good"), ("X-User-Id", "mallory")])
            #expect(ok.status == 200)
            #expect(gateway.last?.header("x-user-id") == "alice")
            #expect(gateway.last?.header("x-scopes") == "read")
            #expect(gateway.last?.header("x-auth-identity") == "alice")
            for _ in 0..<6 {
                #expect(try await gateway.request("/f/x", headers: [("Authorization", "Bearer good")]).status == 200)
            }
            let loops = Array(MultiThreadedEventLoopGroup.singleton.makeIterator()).count
            #expect(calls.withLockedValue { $0 } <= loops, "a yes is remembered for auth_cache (per event loop)")

            let no = try await gateway.request("/f/x", headers: [("Authorization", "Bearer bad")])
            #expect(no.status == 401)
            #expect(no.text == "go away")
            #expect(no.header("www-authenticate") == "Bearer realm=\"auth\"")

            let down = try await gateway.request("/down/x", headers: [("Authorization", "Bearer good")])
            #expect(down.status == 503, "auth_failure = deny by default")
            let open = try await gateway.request("/open/x", headers: [("Authorization", "Bearer good")])
            #expect(open.status == 200, "auth_failure = allow")
            #expect(gateway.last?.header("x-auth-identity") == nil)
        }
        await service.shutdown(gracePeriod: .seconds(1))
    }

    @Test func aBadKeyFileFailsTheReloadAndKeepsTheRunningKeys() async throws {
        try await FilterFixture.with("""
            [route keyed]
            match = /k/*rest
            upstream = rec
            auth = api_key
            api_keys = {dir}/keys
            """, files: ["keys": Self.apiKeys]) { gateway in
            #expect(try await gateway.request("/k/a", headers: [("X-API-Key", Self.aliceKey)]).status == 200)
            try "short alice\n".write(toFile: gateway.folder + "/keys", atomically: true, encoding: .utf8)
            await #expect(throws: ConfigErrors.self) { try await gateway.gateway.apply(gateway.gateway.config) }
            #expect(try await gateway.request("/k/a", headers: [("X-API-Key", Self.aliceKey)]).status == 200)
            // A good file is picked up by the next reload.
            try "carol-key-0123456789abcdef carol\n".write(toFile: gateway.folder + "/keys", atomically: true, encoding: .utf8)
            try await gateway.gateway.apply(gateway.gateway.config)
            #expect(try await gateway.request("/k/a", headers: [("X-API-Key", Self.aliceKey)]).status == 401)
            #expect(try await gateway.request("/k/a", headers: [("X-API-Key", "carol-key-0123456789abcdef")]).status == 200)
        }
    }
}

extension Data {
    func base64URLEncodedString() -> String {
        base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
