import NIOHTTP1
import SluiceConfig
import Testing

@testable import SluiceGateway

/// Where `auth` finds a credential: headers, query parameters, cookies, bearer tokens.
@Suite struct CredentialReadingTests {
    func head(_ headers: [(String, String)]) -> HTTPRequestHead {
        HTTPRequestHead(version: .http1_1, method: .GET, uri: "/", headers: HTTPHeaders(headers))
    }

    @Test func firstSourceThatHasOneWins() {
        let sources: [CredentialSource] = [.header("x-api-key"), .query("key")]
        #expect(Authenticator.credential(sources, head: head([("X-API-Key", "h")]), query: "key=q") == "h")
        #expect(Authenticator.credential(sources, head: head([]), query: "a=1&key=q&b=2") == "q")
        #expect(Authenticator.credential(sources, head: head([("X-API-Key", "")]), query: "") == nil)
        #expect(Authenticator.credential(sources, head: head([]), query: "keyx=1&key=") == nil)
    }

    @Test func cookiesAndBearerTokens() {
        let cookie: [CredentialSource] = [.cookie("session")]
        #expect(Authenticator.credential(cookie, head: head([("Cookie", "a=1; session=tok")]), query: "") == "tok")
        let bearer: [CredentialSource] = [.header("authorization")]
        #expect(Authenticator.bearer(bearer, head: head([("Authorization", "Bearer abc.def.ghi")]), query: "") == "abc.def.ghi")
        #expect(Authenticator.bearer(bearer, head: head([("Authorization", "bearer   abc")]), query: "") == "abc")
        #expect(Authenticator.bearer(bearer, head: head([("Authorization", "Basic dXNlcjpwdw==")]), query: "") == nil)
        #expect(Authenticator.bearer([.query("access_token")], head: head([]), query: "access_token=t1") == "t1")
    }

    @Test func headerValuesLoseControlCharacters() {
        #expect(Authenticator.headerSafe("alice") == "alice")
        #expect(Authenticator.headerSafe("a\r\nX-Evil: 1") == "aX-Evil: 1")
        #expect(Authenticator.headerSafe("tab\tkept") == "tab\tkept")
    }
}
