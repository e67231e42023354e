import SluiceFilters
import Testing

/// Templates: every variable, braces, `$$`, errors, and no control character ever rendered.
@Suite struct TemplateTests {
    static let values: [FilterVariable: String] = [
        .clientIP: "10.0.0.1", .remoteAddress: "127.0.0.1", .requestID: "rid", .route: "users", .upstream: "up",
        .upstreamServer: "10.1.1.1:80", .zone: "az1", .host: "api.example", .scheme: "https", .method: "GET",
        .uri: "/u/7", .requestURI: "/u/7?x=1", .args: "x=1", .identity: "alice", .status: "200",
        .capture(1): "one", .param("id"): "7", .header("user-agent"): "curl",
    ]

    func render(_ text: String, _ values: [FilterVariable: String] = Self.values) throws -> String {
        try Template(parsing: text).render { values[$0] }
    }

    @Test(arguments: [
        ("$client_ip", "10.0.0.1"), ("$remote_addr", "127.0.0.1"), ("$request_id", "rid"), ("$route", "users"),
        ("$upstream", "up"), ("$upstream_server", "10.1.1.1:80"), ("$zone", "az1"), ("$host", "api.example"),
        ("$scheme", "https"), ("$method", "GET"), ("$uri", "/u/7"), ("$request_uri", "/u/7?x=1"), ("$args", "x=1"),
        ("$identity", "alice"), ("$status", "200"), ("$1", "one"), ("$param_id", "7"), ("$http_user_agent", "curl"),
    ])
    func everyVariable(text: String, expected: String) throws {
        #expect(try render(text) == expected)
        #expect(try render("<\(text)>") == "<\(expected)>")
    }

    @Test func bracesDollarsAndText() throws {
        #expect(try render("${route}x") == "usersx")
        #expect(try render("cost: $$5 for $route") == "cost: $5 for users")
        #expect(try render("plain") == "plain")
        #expect(try Template(parsing: "plain").isConstant)
        #expect(try !Template(parsing: "a $route").isConstant)
        #expect(try Template(parsing: "$1 $param_x").usesCaptures)
        #expect(try !Template(parsing: "$route").usesCaptures)
        #expect(try Template(parsing: "$route $http_x_forwarded_for").variables == [.route, .header("x-forwarded-for")])
    }

    @Test func unknownOrIncompleteVariablesAreErrors() {
        for text in ["$nosuch", "$routex", "a $", "${route", "${}", "$-"] {
            #expect(throws: FilterSyntaxError.self, "\(text)") { try Template(parsing: text) }
        }
        do {
            _ = try Template(parsing: "$nosuch")
        } catch {
            #expect(error.description.contains("$client_ip"), "the message lists the known variables")
            #expect(error.got == "$nosuch")
        }
    }

    @Test func missingValuesRenderEmpty() throws {
        #expect(try render("[$identity]", [:]) == "[]")
        #expect(try render("$route", [:]) == "")
    }

    @Test func controlCharactersNeverComeOut() throws {
        let hostile: [FilterVariable: String] = [.header("x"): "a\r\nX-Evil: 1\u{0}\u{7F}\tb"]
        #expect(try render("v=$http_x", hostile) == "v=aX-Evil: 1\tb")
        #expect(try render("$http_x", hostile) == "aX-Evil: 1\tb")
        #expect(try render("$http_x", [.header("x"): "clean"]) == "clean")
    }
}
