import Testing

@testable import SluiceGateway

@Suite struct AdminAccessTests {
    let token = "0123456789abcdef-token"

    private func decide(
        _ access: AdminAccess, _ method: String = "GET", host: String? = "127.0.0.1:9901", origin: String? = nil,
        site: String? = nil, bearer: String? = nil
    ) -> AdminAccess.Decision {
        access.decide(method: method, host: host, origin: origin, fetchSite: site, authorization: bearer.map { "Bearer \($0)" })
    }

    @Test func readsOnLoopbackNeedNoToken() {
        let access = AdminAccess(token: nil, loopback: true)
        #expect(decide(access) == .allow)
        #expect(decide(access, host: "localhost:9901") == .allow)
        #expect(decide(access, host: "[::1]:9901") == .allow)
        #expect(decide(access, host: "127.0.0.1") == .allow)
    }

    @Test func stateChangesAlwaysNeedTheToken() {
        let none = AdminAccess(token: nil, loopback: true)
        guard case .forbidden = decide(none, "POST") else { Issue.record("POST without a configured token"); return }
        let access = AdminAccess(token: token, loopback: true)
        guard case .unauthorized = decide(access, "POST") else { Issue.record("POST without the token"); return }
        guard case .unauthorized = decide(access, "DELETE", bearer: token + "x") else { Issue.record("wrong token"); return }
        guard case .unauthorized = decide(access, "PUT", bearer: String(token.dropLast())) else { Issue.record("prefix"); return }
        #expect(decide(access, "POST", bearer: token) == .allow)
        #expect(access.decide(method: "POST", host: "127.0.0.1", origin: nil, fetchSite: nil, authorization: "bearer \(token)") == .allow)
    }

    @Test func beyondLoopbackEveryRequestNeedsTheToken() {
        let none = AdminAccess(token: nil, loopback: false)
        guard case .forbidden = decide(none) else { Issue.record("no token configured"); return }
        let access = AdminAccess(token: token, loopback: false)
        guard case .unauthorized = decide(access) else { Issue.record("GET without the token"); return }
        #expect(decide(access, host: "gw.internal:9901", bearer: token) == .allow, "a name is fine with the token")
    }

    @Test func reboundNamesAndCrossSitePagesAreRefused() {
        let access = AdminAccess(token: token, loopback: true)
        guard case .forbidden = decide(access, host: "evil.example:9901") else { Issue.record("DNS rebinding"); return }
        guard case .forbidden = decide(access, host: nil) else { Issue.record("no Host"); return }
        guard case .forbidden = decide(access, "POST", origin: "https://evil.example", bearer: token) else {
            Issue.record("CSRF with Origin"); return
        }
        guard case .forbidden = decide(access, origin: "null") else { Issue.record("opaque origin"); return }
        guard case .forbidden = decide(access, site: "cross-site") else { Issue.record("Sec-Fetch-Site"); return }
        #expect(decide(access, origin: "http://127.0.0.1:9901") == .allow, "the admin page's own origin")
        #expect(decide(access, site: "same-origin") == .allow)
        #expect(decide(access, site: "none") == .allow, "typed into the address bar")
    }
}
