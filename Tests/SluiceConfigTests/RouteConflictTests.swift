import SluiceConfig
import Testing

/// Routes the router would refuse together are reported at the later route's `match`, naming the earlier route.
@Suite struct RouteConflictTests {
    /// `validHead` plus one `[route NAME]` per entry, each with its extra lines; route `i`'s `match` is on line
    /// 7 + 4 * i (header, match, extra, upstream).
    func routes(_ routes: [(name: String, match: String, extra: String)]) -> String {
        validHead
            + routes.map { "[route \($0.name)]\nmatch = \($0.match)\n\($0.extra)\nupstream = users\n" }.joined()
    }

    @Test func sameMatchTwiceIsADuplicate() throws {
        let error = try #require(singleError(routes([("a", "/users/*", ""), ("b", "/users/*", "")])))
        #expect(error.location == SourceLocation(file: "sluice.ini", line: 11))
        #expect(error.section == "[route b]")
        #expect(error.key == "match")
        #expect(
            error.message
                == "conflicts with [route a] (match at sluice.ini:7): route '/users/*' conflicts with '/users/*': "
                + "both are registered for any method")
    }

    @Test func differentParameterNamesAtTheSamePlace() throws {
        let error = try #require(singleError(routes([("a", "/users/:id", ""), ("b", "/users/:name/posts", "")])))
        #expect(error.location?.line == 11)
        #expect(
            error.message
                == "conflicts with [route a] (match at sluice.ini:7): route '/users/:name/posts' conflicts with "
                + "'/users/:id': ':name' and ':id' stand at the same place; use one name")
    }

    @Test func parameterConflictsIgnoreMethods() throws {
        let error = try #require(
            singleError(routes([("a", "/u/:id", "methods = GET"), ("b", "/u/:name", "methods = POST")])))
        #expect(error.section == "[route b]")
    }

    @Test func differentHostsNeverConflict() {
        let text = routes([
            ("a", "/users/:id", "host = a.example.com"), ("b", "/users/:name", "host = b.example.com"),
            ("c", "/users/:id", "host = *.example.com"), ("d", "/users/:id", ""),
        ])
        #expect(configErrors(text).isEmpty)
    }

    @Test func overlappingHostsConflictOnTheSharedHost() throws {
        let text = routes([("a", "/x", "host = a.example.com"), ("b", "/x", "host = b.example.com, A.example.com")])
        let error = try #require(singleError(text))
        #expect(error.message.hasPrefix("conflicts with [route a] (match at sluice.ini:7) for host a.example.com: "))
    }

    @Test func methodsSplitAPattern() throws {
        // Disjoint methods, and a specific method beside any-method (the specific one wins), are fine.
        #expect(configErrors(routes([("a", "/x", "methods = GET"), ("b", "/x", "methods = POST")])).isEmpty)
        #expect(configErrors(routes([("a", "/x", "methods = GET"), ("b", "/x", "")])).isEmpty)
        // A shared method is a duplicate, reported once even when several methods overlap.
        let text = routes([("a", "/x", "methods = GET, POST"), ("b", "/x", "methods = POST, GET, PUT")])
        let error = try #require(singleError(text))
        #expect(error.message.hasSuffix("both are registered for POST"))
    }

    @Test func eachConflictingRouteIsReported() {
        let text = routes([("a", "/x", ""), ("b", "/x", ""), ("c", "/x", ""), ("d", "/y", "")])
        let errors = configErrors(text)
        #expect(errors.map(\.section) == ["[route b]", "[route c]"])
        #expect(errors.allSatisfy { $0.message.hasPrefix("conflicts with [route a]") })
    }

    @Test func invalidPatternsAreNotCheckedForConflicts() {
        let errors = configErrors(routes([("a", "x", ""), ("b", "x", "")]))
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.message.hasPrefix("invalid route pattern 'x'") })
    }
}
