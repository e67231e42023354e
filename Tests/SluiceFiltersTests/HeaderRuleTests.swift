import SluiceFilters
import Testing

/// `request_header`, `response_header` and `hide_header` lines.
@Suite struct HeaderRuleTests {
    @Test func operations() throws {
        let set = try HeaderRule.parse("set X-Frame-Options DENY")
        #expect(set.operation == .set && set.name == "x-frame-options" && set.value?.text == "DENY")
        let add = try HeaderRule.parse("add X-Served-By $upstream_server and more")
        #expect(add.operation == .add && add.value?.text == "$upstream_server and more", "the value is the rest of the line")
        let remove = try HeaderRule.parse("remove Cookie")
        #expect(remove.operation == .remove && remove.name == "cookie" && remove.value == nil)
        #expect(try HeaderRule.parse("SET X-A b").operation == .set, "the verb in any case")
    }

    @Test(arguments: [
        ("replace X-A b", "set NAME VALUE"), ("set X-A", "set NAME VALUE"), ("set", "header name"),
        ("remove Cookie now", "without a value"), ("set X(A) b", "header name"), ("set X-A $nosuch", "known variable"),
        ("set X-A $1", "captures belong to rewrite"), ("set Host x", "host_rewrite"),
    ])
    func refused(text: String, fragment: String) {
        #expect {
            try HeaderRule.parse(text)
        } throws: { error in
            (error as? FilterSyntaxError)?.description.contains(fragment) == true
        }
    }

    @Test(arguments: ["content-length", "Transfer-Encoding", "connection", "keep-alive", "proxy-connection", "te",
                      "trailer", "upgrade"])
    func theGatewaysOwnHeadersCannotBeSet(name: String) {
        #expect(throws: FilterSyntaxError.self) { try HeaderRule.parse("set \(name) x") }
        #expect(throws: FilterSyntaxError.self) { try HeaderRule.parse("remove \(name)") }
    }

    @Test func hiddenHeaders() throws {
        let rules = try HeaderRule.hidden("Server, X-Powered-By  X-AspNet-Version")
        #expect(rules.map(\.name) == ["server", "x-powered-by", "x-aspnet-version"])
        #expect(rules.allSatisfy { $0.operation == .remove })
        #expect(throws: FilterSyntaxError.self) { try HeaderRule.hidden("") }
        #expect(throws: FilterSyntaxError.self) { try HeaderRule.hidden("Server, X:Bad") }
    }
}
