import SluiceFilters
import Testing

/// `return`: redirects, bodies, empty answers, and what is refused.
@Suite struct DirectAnswerTests {
    @Test func redirects() throws {
        for status in [301, 302, 303, 307, 308] {
            let answer = try DirectAnswer.parse("\(status) https://example.com$request_uri")
            #expect(answer.status == status)
            #expect(answer.location?.render { $0 == .requestURI ? "/a?b=1" : nil } == "https://example.com/a?b=1")
            #expect(answer.renderedBody { $0 == .requestURI ? "/a" : nil } == "redirecting to https://example.com/a\n")
        }
        #expect(try DirectAnswer.parse("302 /login").location?.text == "/login")
        // A path with a query is a redirect target too (nginx: `return 302 /login?next=$request_uri`).
        #expect(try DirectAnswer.parse("302 /login?next=/x").location?.text == "/login?next=/x")
        #expect(try DirectAnswer.parse("302 /login?next=$request_uri").location?.render { _ in "/a" } == "/login?next=/a")
        #expect(try DirectAnswer.parse("301 /x body=moved").renderedBody { _ in nil } == "moved\n")
    }

    @Test func bodiesAndTypes() throws {
        let ok = try DirectAnswer.parse("200 type=application/json body={\"status\": \"ok\", \"route\": \"$route\"}")
        #expect(ok.contentType == "application/json")
        #expect(ok.renderedBody { $0 == .route ? "r" : nil } == "{\"status\": \"ok\", \"route\": \"r\"}\n")
        let plain = try DirectAnswer.parse("503 body=down for maintenance")
        #expect(plain.contentType == DirectAnswer.defaultType)
        #expect(plain.renderedBody { _ in nil } == "down for maintenance\n")
        #expect(try DirectAnswer.parse("200 body=line\n").renderedBody { _ in nil } == "line\n", "no second newline")
        let empty = try DirectAnswer.parse("204")
        #expect(empty.body == nil && empty.renderedBody { _ in nil } == "")
        #expect(try DirectAnswer.parse("200").renderedBody { _ in nil } == "")
    }

    @Test(arguments: [
        ("", "status"), ("abc", "status"), ("100", "status"), ("600", "status"), ("2000", "status"),
        ("301", "URL"), ("302 example.com", "URL"), ("302 body=https://x", "URL"), ("302 type=a/b", "URL"), ("200 length=3", "type="), ("204 body=x", "no body"),
        ("304 body=x", "no body"), ("200 type=json", "type="), ("200 body=$nosuch", "known variable"),
        ("200 body=$1", "$0..$9"),
    ])
    func refused(text: String, fragment: String) {
        #expect {
            try DirectAnswer.parse(text)
        } throws: { error in
            (error as? FilterSyntaxError)?.description.contains(fragment) == true
        }
    }
}
