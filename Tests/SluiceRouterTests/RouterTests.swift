import SluiceRouter
import Testing

/// Builds a router from (method, pattern) pairs whose value is "METHOD pattern".
private func makeRouter(_ routes: [(String?, String)], options: RouterOptions = RouterOptions()) throws -> Router<String> {
    var builder = RouterBuilder<String>()
    for (method, pattern) in routes { try builder.add(method, pattern, "\(method ?? "ANY") \(pattern)") }
    return builder.build(options: options)
}

private func found(_ match: RouteMatch<String>) -> (String, [String: String])? {
    guard case .found(let value, let parameters) = match else { return nil }
    var dict: [String: String] = [:]
    for (name, value) in parameters { dict[name] = String(value) }
    return (value, dict)
}

@Suite struct RouterMatchingTests {
    let router: Router<String>

    init() throws {
        router = try makeRouter([
            ("GET", "/"),
            ("GET", "/ping"),
            ("GET", "/users"),
            ("GET", "/users/new"),
            ("GET", "/users/:id"),
            ("GET", "/users/:id/posts/:post"),
            ("GET", "/static/*path"),
            ("GET", "/a/:x/b"),
            ("GET", "/a/*rest"),
            ("POST", "/users"),
            (nil, "/anything"),
            ("DELETE", "/anything"),
        ])
    }

    @Test(arguments: [
        ("/", "GET /", [:]),
        ("/ping", "GET /ping", [:]),
        ("/users", "GET /users", [:]),
        ("/users/new", "GET /users/new", [:]),
        ("/users/newer", "GET /users/:id", ["id": "newer"]),
        ("/users/ne", "GET /users/:id", ["id": "ne"]),
        ("/users/42", "GET /users/:id", ["id": "42"]),
        ("/users/42/posts/7", "GET /users/:id/posts/:post", ["id": "42", "post": "7"]),
        ("/static/", "GET /static/*path", ["path": ""]),
        ("/static/css/site.css", "GET /static/*path", ["path": "css/site.css"]),
        ("/a/foo/b", "GET /a/:x/b", ["x": "foo"]),
        ("/anything", "ANY /anything", [:]),
    ] as [(String, String, [String: String])])
    func matches(path: String, route: String, parameters: [String: String]) throws {
        let (value, captured) = try #require(found(router.lookup("GET", path)))
        #expect(value == route)
        #expect(captured == parameters)
    }

    @Test func backtrackingRollsBackParameters() throws {
        // Hummingbird 2.28 reports x=foo here; the parameter captured on the dead branch must be dropped.
        let (value, captured) = try #require(found(router.lookup("GET", "/a/foo/c")))
        #expect(value == "GET /a/*rest")
        #expect(captured == ["rest": "foo/c"])
    }

    @Test func specificMethodBeatsAnyMethod() throws {
        #expect(found(router.lookup("DELETE", "/anything"))?.0 == "DELETE /anything")
        #expect(found(router.lookup("PATCH", "/anything"))?.0 == "ANY /anything")
    }

    @Test func methodNotAllowedListsMethodsSorted() {
        guard case .methodNotAllowed(let allowed) = router.lookup("PUT", "/users") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == ["GET", "POST"])
    }

    @Test func methodNotAllowedCollectsEveryMatchingRoute() throws {
        let router = try makeRouter([("POST", "/u/new"), ("PUT", "/u/:id"), ("GET", "/u/*rest")])
        guard case .methodNotAllowed(let allowed) = router.lookup("DELETE", "/u/new") else {
            Issue.record("expected 405")
            return
        }
        #expect(allowed == ["GET", "POST", "PUT"])
        // GET on /u/new falls through the POST-only literal and the PUT-only parameter to the catch-all.
        #expect(found(router.lookup("GET", "/u/new"))?.0 == "GET /u/*rest")
        #expect(found(router.lookup("PUT", "/u/new"))?.0 == "PUT /u/:id")
    }

    @Test func notFound() {
        for path in ["/nope", "/users/1/posts", "/statics", "/b/a"] {
            if case .notFound = router.lookup("GET", path) { continue }
            Issue.record("expected 404 for \(path), got \(router.lookup("GET", path))")
        }
    }

    @Test func emptyParameterDoesNotMatch() {
        if case .found = router.lookup("GET", "/users//posts/1") { Issue.record("empty segment matched a parameter") }
    }
}

@Suite struct RouterConflictTests {
    @Test func differentParameterNamesAtTheSamePlace() throws {
        var builder = RouterBuilder<Int>()
        try builder.add("GET", "/users/:id", 1)
        let error = #expect(throws: RouterError.self) { try builder.add("GET", "/users/:uid/posts", 2) }
        #expect(error?.kind == .conflictingParameterName)
        #expect(error?.pattern == "/users/:uid/posts")
        #expect(error?.existingPattern == "/users/:id")
        #expect(error?.description.contains("/users/:id") == true)
        #expect(error?.description.contains("/users/:uid/posts") == true)
    }

    @Test func differentCatchAllNames() throws {
        var builder = RouterBuilder<Int>()
        try builder.add("GET", "/files/*path", 1)
        let error = #expect(throws: RouterError.self) { try builder.add("POST", "/files/*rest", 2) }
        #expect(error?.kind == .conflictingParameterName)
        #expect(error?.existingPattern == "/files/*path")
    }

    @Test func duplicateRoute() throws {
        var builder = RouterBuilder<Int>()
        try builder.add("GET", "/users/:id", 1)
        try builder.add("POST", "/users/:id", 2)
        try builder.add(nil, "/users/:id", 3)
        let error = #expect(throws: RouterError.self) { try builder.add("GET", "/users/:id", 4) }
        #expect(error?.kind == .duplicateRoute)
        #expect(error?.existingPattern == "/users/:id")
        let anyError = #expect(throws: RouterError.self) { try builder.add(nil, "/users/:id", 5) }
        #expect(anyError?.kind == .duplicateRoute)
    }

    @Test func catchAllNotAtEnd() {
        var builder = RouterBuilder<Int>()
        let error = #expect(throws: RouterError.self) { try builder.add("GET", "/a/*rest/b", 1) }
        #expect(error?.kind == .catchAllNotAtEnd)
        #expect(error?.description.contains("/a/*rest/b") == true)
    }

    @Test(arguments: ["", "users", "/a/:", "/a/:b/:b", "/a/:na.me", "/a/:x y"])
    func invalidPatterns(pattern: String) {
        var builder = RouterBuilder<Int>()
        let error = #expect(throws: RouterError.self) { try builder.add("GET", pattern, 1) }
        #expect(error?.kind == .invalidPattern)
    }

    @Test func literalParameterAndCatchAllCoexist() throws {
        let router = try makeRouter([("GET", "/x/new"), ("GET", "/x/:id"), ("GET", "/x/*rest"), ("GET", "/x/")])
        #expect(found(router.lookup("GET", "/x/new"))?.0 == "GET /x/new")
        #expect(found(router.lookup("GET", "/x/7"))?.0 == "GET /x/:id")
        #expect(found(router.lookup("GET", "/x/7/8"))?.0 == "GET /x/*rest")
        #expect(found(router.lookup("GET", "/x/"))?.0 == "GET /x/")
    }

    @Test func failedAddLeavesTheRouterUsable() throws {
        var builder = RouterBuilder<Int>()
        try builder.add("GET", "/a/:x", 1)
        _ = try? builder.add("GET", "/a/:y", 2)
        let router = builder.build()
        guard case .found(let value, let parameters) = router.lookup("GET", "/a/1") else {
            Issue.record("lost the first route")
            return
        }
        #expect(value == 1)
        #expect(parameters["x"] == "1")
        #expect(router.routes.count == 1)
    }
}

@Suite struct RouterRedirectTests {
    @Test func trailingSlashRedirects() throws {
        let router = try makeRouter([("GET", "/users"), ("GET", "/docs/"), ("POST", "/forms/:id")])
        guard case .redirect(let add) = router.lookup("GET", "/docs") else {
            Issue.record("expected a redirect to /docs/")
            return
        }
        #expect(add == "/docs/")
        guard case .redirect(let remove) = router.lookup("GET", "/users/") else {
            Issue.record("expected a redirect to /users")
            return
        }
        #expect(remove == "/users")
        guard case .redirect(let post) = router.lookup("POST", "/forms/9/") else {
            Issue.record("expected a redirect for POST too (the caller picks 308)")
            return
        }
        #expect(post == "/forms/9")
    }

    @Test func trailingSlashRedirectCanBeTurnedOff() throws {
        let router = try makeRouter([("GET", "/users")], options: RouterOptions(redirectTrailingSlash: false))
        guard case .notFound = router.lookup("GET", "/users/") else {
            Issue.record("expected 404")
            return
        }
    }

    @Test func fixedPathRedirectIsCaseInsensitiveAndCleansThePath() throws {
        let options = RouterOptions(redirectTrailingSlash: true, redirectFixedPath: true)
        let router = try makeRouter([("GET", "/Users/:id/Profile"), ("GET", "/docs/")], options: options)
        let cases = [
            ("/users/AbC/profile", "/Users/AbC/Profile"),
            ("/USERS//7/./x/../PROFILE", "/Users/7/Profile"),
            ("/DOCS", "/docs/"),
        ]
        for (path, expected) in cases {
            guard case .redirect(let location) = router.lookup("GET", path) else {
                Issue.record("expected a redirect for \(path)")
                continue
            }
            #expect(location == expected)
        }
        #expect(found(try makeRouter([("GET", "/Users")]).lookup("GET", "/users")) == nil)
    }
}

@Suite struct RouterEncodingTests {
    @Test func parametersAreRawAndDecodable() throws {
        var builder = RouterBuilder<Int>()
        try builder.add("GET", "/files/:name", 1)
        let router = builder.build()
        guard case .found(_, let parameters) = router.lookup("GET", "/files/a%2Fb%20c") else {
            Issue.record("%2F must not split a segment")
            return
        }
        #expect(parameters["name"] == "a%2Fb%20c")
        #expect(parameters.decoded("name") == "a/b c")
        #expect(PercentDecoding.decode("100%") == "100%")
        #expect(PercentDecoding.decode("%zz%41") == "%zzA")
        #expect(PercentDecoding.decode("%FF") == nil)
    }

    @Test func nonASCIIPatternsMatchTheirEncodedForm() throws {
        let router = try makeRouter([("GET", "/café/:item")])
        #expect(found(router.lookup("GET", "/caf%C3%A9/tea"))?.1 == ["item": "tea"])
        #expect(found(router.lookup("GET", "/cafe/tea")) == nil)
    }

    @Test func nonASCIIPathsAreMatchedByteForByte() throws {
        let router = try makeRouter([("GET", "/u/:name")])
        #expect(found(router.lookup("GET", "/u/zoë"))?.1 == ["name": "zoë"])
    }

    @Test func veryLongPaths() throws {
        let long = String(repeating: "abcdefgh/", count: 20_000)
        let router = try makeRouter([("GET", "/files/*path"), ("GET", "/" + long + "end"), ("GET", "/x/:id")])
        #expect(found(router.lookup("GET", "/files/" + long))?.1 == ["path": long])
        #expect(found(router.lookup("GET", "/" + long + "end"))?.0 == "GET /" + long + "end")
        let huge = String(repeating: "z", count: 1 << 20)
        #expect(found(router.lookup("GET", "/x/" + huge))?.1 == ["id": huge])
        #expect(found(router.lookup("GET", "/x/" + huge + "/more")) == nil)
    }
}

@Suite struct RouterScaleTests {
    @Test func tenThousandRoutes() throws {
        var builder = RouterBuilder<Int>()
        for index in 0..<10_000 {
            switch index % 4 {
            case 0: try builder.add("GET", "/api/v\(index % 7)/service\(index)/items", index)
            case 1: try builder.add("GET", "/api/v\(index % 7)/service\(index)/items/:id", index)
            case 2: try builder.add("POST", "/api/v\(index % 7)/service\(index)/items/:id/tags/*tag", index)
            default: try builder.add(nil, "/static\(index)", index)
            }
        }
        let router = builder.build()
        for index in 0..<10_000 {
            let (method, path, parameters): (String, String, [String: String]) =
                switch index % 4 {
                case 0: ("GET", "/api/v\(index % 7)/service\(index)/items", [:])
                case 1: ("GET", "/api/v\(index % 7)/service\(index)/items/\(index)", ["id": "\(index)"])
                case 2: ("POST", "/api/v\(index % 7)/service\(index)/items/x/tags/a/b", ["id": "x", "tag": "a/b"])
                default: ("PATCH", "/static\(index)", [:])
                }
            guard case .found(let value, let captured) = router.lookup(method, path) else {
                Issue.record("route \(index) not found at \(path)")
                continue
            }
            #expect(value == index)
            var dict: [String: String] = [:]
            for (name, value) in captured { dict[name] = String(value) }
            #expect(dict == parameters)
        }
    }
}
