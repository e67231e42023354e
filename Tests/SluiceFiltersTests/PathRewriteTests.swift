import SluiceFilters
import Testing

/// `strip_prefix`, `rewrite` and `add_prefix`: boundaries, captures, parameters, redirects, and bad values.
@Suite struct PathRewriteTests {
    func apply(_ rewrite: PathRewrite, _ path: Substring, params: [String: Substring] = [:]) -> PathRewrite.Outcome {
        rewrite.apply(to: path, params: { params[$0] })
    }

    @Test(arguments: [
        ("/api", "/"), ("/api/", "/"), ("/api/users/7", "/users/7"), ("/apix", "/apix"), ("/other/api", "/other/api"),
        ("/", "/"),
    ])
    func stripAtSegmentBoundaries(path: String, expected: String) {
        #expect(apply(PathRewrite(stripPrefix: "/api"), path[...]) == .path(expected))
    }

    @Test func addPrefixAndTheOrder() throws {
        #expect(apply(PathRewrite(addPrefix: "/v2"), "/users") == .path("/v2/users"))
        #expect(apply(PathRewrite(addPrefix: "/v2"), "/") == .path("/v2/"))
        let all = PathRewrite(
            stripPrefix: "/api", rewrite: try RegexRewrite.parse("^/users/([0-9]+)$ /people/$1"), addPrefix: "/v2")
        #expect(apply(all, "/api/users/42") == .path("/v2/people/42"), "strip, then rewrite, then add")
        #expect(apply(all, "/api/other") == .path("/v2/other"))
        #expect(PathRewrite().isEmpty && !all.isEmpty)
    }

    @Test func regularExpressionsWithCaptures() throws {
        let swap = try RegexRewrite.parse("^/old/([a-z]+)/([0-9]+)$ /new/$2/$1")
        #expect(apply(PathRewrite(rewrite: swap), "/old/abc/42") == .path("/new/42/abc"))
        #expect(apply(PathRewrite(rewrite: swap), "/old/ABC/42") == .path("/old/ABC/42"), "no match: unchanged")
        let whole = try RegexRewrite.parse("^/a(/.*)?$ /b$0")
        #expect(apply(PathRewrite(rewrite: whole), "/a/x") == .path("/b/a/x"))
        let optional = try RegexRewrite.parse("^/a(/x)?(/y)?$ /b$2")
        #expect(apply(PathRewrite(rewrite: optional), "/a/x") == .path("/b"), "a group that took no part is empty")
        #expect(swap.flag == .forward)
    }

    @Test func pathParameters() throws {
        let replace = try RegexRewrite.parse("/v1/people/:id")
        #expect(apply(PathRewrite(rewrite: replace), "/users/7", params: ["id": "7"]) == .path("/v1/people/7"))
        let rest = try RegexRewrite.parse("^/files/(.*)$ /store/:bucket/*path")
        #expect(
            apply(PathRewrite(rewrite: rest), "/files/a/b", params: ["bucket": "b1", "path": "a/b"]) == .path("/store/b1/a/b"))
        #expect(apply(PathRewrite(rewrite: replace), "/users/7") == .path("/v1/people/"), "a missing parameter is empty")
    }

    @Test func redirectFlags() throws {
        let temporary = try RegexRewrite.parse("^/old/(.*)$ /new/$1 redirect")
        #expect(apply(PathRewrite(rewrite: temporary), "/old/x") == .redirect(status: 302, location: "/new/x"))
        let permanent = try RegexRewrite.parse("^/old/(.*)$ https://example.com/$1 permanent")
        #expect(apply(PathRewrite(rewrite: permanent), "/old/x") == .redirect(status: 301, location: "https://example.com/x"))
        #expect(apply(PathRewrite(rewrite: permanent), "/other") == .path("/other"))
    }

    @Test(arguments: [
        ("^/a/(unclosed /b", "regular expression"), ("^/a/(.*)$ /b/$2", "$0..$1"), ("^/a$ b", "starts with /"),
        ("a b c d", "REGEX REPLACEMENT"), ("users/:id", "REGEX REPLACEMENT"), ("^/a$ /b?x=1", "without spaces, ? or #"),
        ("^/a$ https://x/y", "starts with /"),
    ])
    func badRewrites(text: String, fragment: String) {
        #expect {
            try RegexRewrite.parse(text)
        } throws: { error in
            (error as? FilterSyntaxError)?.description.contains(fragment) == true
        }
    }

    @Test func prefixValues() throws {
        #expect(try PathRewrite.prefix(" /api ") == "/api")
        #expect(try PathRewrite.prefix("/") == "/")
        for bad in ["api", "/api/", "/a//b", "/a b", "/a?x", ""] {
            #expect(throws: FilterSyntaxError.self, "\(bad)") { try PathRewrite.prefix(bad) }
        }
    }
}
