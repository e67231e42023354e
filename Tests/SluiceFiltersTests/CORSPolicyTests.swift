import SluiceFilters
import Testing

/// `cors`: which origins match, preflights allowed and refused, the fields of actual answers, and bad policies.
@Suite struct CORSPolicyTests {
    func fields(_ list: [(name: String, value: String)]?) -> [String: String] {
        Dictionary((list ?? []).map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    @Test func originMatching() throws {
        let policy = try CORSPolicy.parse("origins=https://a.example,https://*.b.example,http://c.example:8080")
        #expect(policy.allows(origin: "https://a.example"))
        #expect(policy.allows(origin: "HTTPS://A.EXAMPLE"), "scheme and host compare without case")
        #expect(!policy.allows(origin: "http://a.example"))
        #expect(!policy.allows(origin: "https://a.example:8443"))
        #expect(policy.allows(origin: "https://x.b.example"))
        #expect(policy.allows(origin: "https://a.x.b.example"))
        #expect(!policy.allows(origin: "https://b.example"), "a wildcard needs a label before the domain")
        #expect(!policy.allows(origin: "https://xb.example"))
        #expect(!policy.allows(origin: "http://x.b.example"))
        #expect(!policy.allows(origin: "https://x.b.example:444"))
        #expect(policy.allows(origin: "http://c.example:8080"))
        #expect(!policy.allows(origin: "http://c.example"))
        #expect(!policy.allows(origin: "null"))
        #expect(!policy.allows(origin: "garbage"))
        let any = try CORSPolicy.parse("origins=*")
        #expect(any.allows(origin: "https://anything.example"))
        #expect(!any.allows(origin: "null"), "null never matches a wildcard")
    }

    @Test func preflights() throws {
        let policy = try CORSPolicy.parse(
            "origins=https://a.example methods=GET,PUT headers=Authorization,X-Token credentials=on max_age=10m")
        let allowed = fields(policy.preflight(origin: "https://a.example", requestMethod: "PUT", requestHeaders: "authorization, Content-Type"))
        #expect(allowed["access-control-allow-origin"] == "https://a.example")
        #expect(allowed["access-control-allow-methods"] == "GET, PUT")
        #expect(allowed["access-control-allow-headers"] == "authorization, content-type", "safelisted ones too")
        #expect(allowed["access-control-allow-credentials"] == "true")
        #expect(allowed["access-control-max-age"] == "600")
        #expect(allowed["vary"]?.contains("Origin") == true)
        #expect(policy.preflight(origin: "https://a.example", requestMethod: "POST", requestHeaders: nil) != nil,
                "simple methods are always allowed")
        #expect(policy.preflight(origin: "https://a.example", requestMethod: "DELETE", requestHeaders: nil) == nil)
        #expect(policy.preflight(origin: "https://a.example", requestMethod: "GET", requestHeaders: "X-Other") == nil)
        #expect(policy.preflight(origin: "https://evil.example", requestMethod: "GET", requestHeaders: nil) == nil)
        let anyHeader = try CORSPolicy.parse("origins=https://a.example headers=*")
        #expect(fields(anyHeader.preflight(origin: "https://a.example", requestMethod: "GET", requestHeaders: "X-A, X-B"))["access-control-allow-headers"] == "x-a, x-b")
        #expect(CORSPolicy.isPreflight(method: "OPTIONS", origin: "https://a", requestMethod: "GET"))
        #expect(!CORSPolicy.isPreflight(method: "OPTIONS", origin: "https://a", requestMethod: nil))
        #expect(!CORSPolicy.isPreflight(method: "GET", origin: "https://a", requestMethod: "GET"))
    }

    @Test func actualAnswers() throws {
        let policy = try CORSPolicy.parse("origins=https://a.example expose=X-Request-Id,ETag credentials=on")
        let answer = fields(policy.responseHeaders(origin: "https://a.example"))
        #expect(answer["access-control-allow-origin"] == "https://a.example")
        #expect(answer["access-control-allow-credentials"] == "true")
        #expect(answer["access-control-expose-headers"] == "X-Request-Id, ETag")
        #expect(policy.responseHeaders(origin: "https://evil.example").isEmpty)
        #expect(policy.responseHeaders(origin: nil).isEmpty)
        let any = try CORSPolicy.parse("origins=*")
        #expect(fields(any.responseHeaders(origin: "https://x.example"))["access-control-allow-origin"] == "*")
        #expect(CORSPolicy.vary == "Origin")
    }

    @Test(arguments: [
        ("methods=GET", "origins="), ("origins=* credentials=on", "never a wildcard with credentials"),
        ("origins=a.example", "an origin like"), ("origins=https://a.example/path", "no path"),
        ("origins=https://a.example max_age=forever", "max_age="), ("origins=https://a.example max_age=2d", "max_age="),
        ("origins=https://a.example credentials=maybe", "credentials=on"), ("origins=https://a.example colour=red", "one of"),
        ("origins=https://a.example methods=", "methods="), ("origins=https://*.*.x", "an origin like"),
        ("origins", "key=value"),
    ])
    func badPolicies(text: String, fragment: String) {
        #expect {
            try CORSPolicy.parse(text)
        } throws: { error in
            (error as? FilterSyntaxError)?.description.contains(fragment) == true
        }
    }
}
