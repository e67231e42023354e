import Testing

@testable import SluiceGateway

/// Active health checks: the `expect` statuses.
@Suite struct HealthCheckExpectationTests {
    @Test func expectationRangesAndLists() throws {
        let range = try HealthCheckExpectation(parsing: "200-399")
        #expect(range.ranges == [200...399])
        #expect(range.accepts(status: 200) && range.accepts(status: 399))
        #expect(!range.accepts(status: 199) && !range.accepts(status: 400))

        let list = try HealthCheckExpectation(parsing: "200,204,300-399")
        #expect(list.ranges == [200...200, 204...204, 300...399])
        #expect(list.accepts(status: 204) && list.accepts(status: 302))
        #expect(!list.accepts(status: 201) && !list.accepts(status: 404))

        let spaced = try HealthCheckExpectation(parsing: " 2xx , 404 ")
        #expect(spaced.ranges == [200...299, 404...404])
        #expect(try HealthCheckExpectation(parsing: "5XX").ranges == [500...599])
        #expect(try HealthCheckExpectation(parsing: "204-204").ranges == [204...204])
        #expect(HealthCheckExpectation.default.accepts(status: 301))
        #expect(!HealthCheckExpectation.default.accepts(status: 500))
    }

    @Test(arguments: [
        ("", HealthCheckExpectation.ParseError.empty),
        ("  ", .empty),
        ("200,", .empty),
        (",200", .empty),
        ("abc", .invalidItem("abc")),
        ("99", .invalidItem("99")),
        ("2000", .invalidItem("2000")),
        ("+200", .invalidItem("+200")),
        ("200-", .invalidItem("200-")),
        ("-200", .invalidItem("-200")),
        ("200-300-400", .invalidItem("200-300-400")),
        ("2x", .invalidItem("2x")),
        ("600", .statusOutOfRange("600")),
        ("099", .statusOutOfRange("099")),
        ("6xx", .statusOutOfRange("6xx")),
        ("0xx", .statusOutOfRange("0xx")),
        ("399-200", .invertedRange("399-200")),
    ])
    func expectationRejects(text: String, error: HealthCheckExpectation.ParseError) {
        #expect(throws: error) { try HealthCheckExpectation(parsing: text) }
    }
}
