import SluiceConfig
import Testing

@Suite struct ValueParsingTests {
    @Test(arguments: [
        ("500ms", Duration.milliseconds(500)), ("2s", .seconds(2)), ("1m", .seconds(60)), ("1h", .seconds(3600)),
        ("100us", .microseconds(100)), ("100µs", .microseconds(100)), ("1.5s", .milliseconds(1500)),
        ("1.1s", .nanoseconds(1_100_000_000)), ("250ns", .nanoseconds(250)), (" 0s ", .zero), ("0.5m", .seconds(30)),
    ])
    func durations(text: String, expected: Duration) throws {
        #expect(try ValueParsing.duration(text) == expected)
    }

    @Test(arguments: ["5", "5 sec", "s", "", "-1s", "1.s", ".5s", "1,5s", "2S", "1ms5", "99999999999999h", "1e3ms"])
    func badDurations(text: String) {
        #expect(throws: ValueError.self) { try ValueParsing.duration(text) }
    }

    @Test func durationErrorSaysWhatWasExpected() {
        #expect(throws: ValueError(expected: "a duration like 500ms, 2s or 1m", got: "5 sec")) {
            try ValueParsing.duration("5 sec")
        }
        let error = ValueError(expected: "a duration like 500ms, 2s or 1m", got: "5 sec")
        #expect(error.description == "expected a duration like 500ms, 2s or 1m, got '5 sec'")
        #expect(ValueError(expected: "a size", got: "").description == "expected a size, got nothing")
    }

    @Test func durationText() throws {
        #expect(ValueParsing.text(.milliseconds(250)) == "250ms")
        #expect(ValueParsing.text(.seconds(2)) == "2s")
        #expect(ValueParsing.text(.seconds(120)) == "2m")
        #expect(ValueParsing.text(.seconds(7200)) == "2h")
        #expect(ValueParsing.text(.microseconds(5)) == "5us")
        #expect(ValueParsing.text(.nanoseconds(7)) == "7ns")
        #expect(ValueParsing.text(.zero) == "0s")
        for text in ["1.5s", "90s", "100us"] {
            let duration = try ValueParsing.duration(text)
            #expect(try ValueParsing.duration(ValueParsing.text(duration)) == duration)
        }
    }

    @Test(arguments: [("512", 512), ("64k", 65536), ("64K", 65536), ("1m", 1_048_576), ("1g", 1_073_741_824), ("0", 0)])
    func sizes(text: String, expected: Int) throws {
        #expect(try ValueParsing.size(text) == expected)
    }

    @Test(arguments: ["", "k", "1.5m", "-1", "1kb", "1t", "99999999999999999g", "1 k"])
    func badSizes(text: String) {
        #expect(throws: ValueError.self) { try ValueParsing.size(text) }
    }

    /// Text at and past the limits of 64-bit arithmetic is refused with a ValueError, never wrapped or trapped on.
    @Test(arguments: [
        "9223372036854775807s", "9223372036854775808ns", "99999999999999999999ms", "999999999999999999s",
        "106752d", "1e999", "1e30s", "-0", "-0s", "+5s", "0x10s", " 5 ", "5", "inf", "nan", "1.5e3ms", "--1s",
        "1..5s", "99999999999999999999.5s", "",
    ])
    func extremeDurations(text: String) {
        #expect(throws: ValueError.self, "\(text)") { try ValueParsing.duration(text) }
    }

    @Test func durationsUpToTheInt64Limit() throws {
        #expect(try ValueParsing.duration("9223372036s") == .seconds(9_223_372_036))
        #expect(try ValueParsing.duration("9223372036.854775807s") == .nanoseconds(Int64.max))
        #expect(throws: ValueError.self) { try ValueParsing.duration("9223372036.854775808s") }
        #expect(try ValueParsing.duration("1d") == .seconds(86_400) && ValueParsing.text(.seconds(86_400)) == "1d")
        #expect(try ValueParsing.duration("1.5d") == .seconds(129_600))
        #expect(try ValueParsing.duration(" 2s ") == .seconds(2))
        #expect(try ValueParsing.duration("0.0000000001s") == .zero)  // below a nanosecond: dropped
        #expect(try ValueParsing.duration("0.99999999999999999999999999999999999h") < .seconds(3600))
    }

    @Test func rangedDurationsSayWhichBoundWasCrossed() throws {
        let range = Duration.milliseconds(1)...Duration.seconds(86_400)
        #expect(try ValueParsing.duration("1ms", in: range) == .milliseconds(1))
        #expect(try ValueParsing.duration("24h", in: range) == .seconds(86_400))
        #expect(throws: ValueError(expected: "a duration of at most 1d", got: "9223372036s")) {
            try ValueParsing.duration("9223372036s", in: range)
        }
        #expect(throws: ValueError(expected: "a duration of at least 1ms", got: "999us")) {
            try ValueParsing.duration("999us", in: range)
        }
        #expect(throws: ValueError(expected: "a duration above 0, like 500ms, 2s or 1m", got: "0s")) {
            try ValueParsing.duration("0s", in: .nanoseconds(1)...Duration.seconds(1))
        }
    }

    @Test(arguments: [
        "9999999999999999k", "9999999999999g", "8796093022208m", "9223372036854775807", "1e9", "0x10", "-0", "+5",
        "1t", "1.0k", "kk", "1k1",
    ])
    func extremeSizes(text: String) {
        #expect(throws: ValueError.self, "\(text)") { try ValueParsing.size(text) }
    }

    @Test func rangedSizes() throws {
        #expect(try ValueParsing.size("1024g", in: 0...(1 << 40)) == 1 << 40)
        #expect(throws: ValueError(expected: "a size of at most 1024g", got: "1025g")) {
            try ValueParsing.size("1025g", in: 0...(1 << 40))
        }
        #expect(throws: ValueError(expected: "a size of at least 1024, like 512, 64k or 1m", got: "1023")) {
            try ValueParsing.size("1023", in: 1024...2048)
        }
        #expect(ValueParsing.sizeText(16 << 20) == "16m" && ValueParsing.sizeText(1536) == "1536")
        #expect(ValueParsing.sizeText(0) == "0" && ValueParsing.sizeText(64 << 10) == "64k")
    }

    @Test(arguments: [
        "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999", "1e30", "-0",
        "+5", "0x10", "5.", "", "-", "1_000", "١٢",
    ])
    func extremeIntegers(text: String) {
        #expect(throws: ValueError.self, "\(text)") { try ValueParsing.integer(text, in: 0...Int.max) }
    }

    @Test func signsOnlyWhereTheRangeHasNegatives() throws {
        #expect(try ValueParsing.integer("-3", in: -5...5) == -3)
        #expect(try ValueParsing.integer(" 5 ", in: 0...5) == 5)  // surrounding spaces are ignored, as everywhere
        #expect(throws: ValueError(expected: "a whole number from 0 to 5", got: "-0")) {
            try ValueParsing.integer("-0", in: 0...5)
        }
        #expect(throws: ValueError.self) { try ValueParsing.integer("-0", in: -5...5) }
        #expect(throws: ValueError(expected: "a whole number from 0 to 5", got: "-3")) {
            try ValueParsing.integer("-3", in: 0...5)
        }
    }

    @Test func decimalNumbers() throws {
        #expect(try ValueParsing.number("1.25", in: 1...10) == 1.25)
        #expect(try ValueParsing.number("10", in: 1...10) == 10)
        for bad in ["10.000000001", "0.999999999", "1e0", "inf", "nan", "+2", "-1", "0x1p0", "", "1.", ".5"] {
            #expect(throws: ValueError.self, "\(bad)") { try ValueParsing.number(bad, in: 1...10) }
        }
    }

    @Test func percentages() throws {
        #expect(try ValueParsing.percentage("50%") == 0.5)
        #expect(try ValueParsing.percentage("0%") == 0)
        #expect(try ValueParsing.percentage("100%") == 1)
        #expect(try ValueParsing.percentage("12.5%") == 0.125)
        for bad in ["50", "101%", "-5%", "%", "abc%", "0.5"] {
            #expect(throws: ValueError.self, "\(bad)") { try ValueParsing.percentage(bad) }
        }
    }

    @Test func booleans() throws {
        for yes in ["on", "true", "yes", "ON", "Yes"] { #expect(try ValueParsing.boolean(yes)) }
        for no in ["off", "false", "no", "Off"] { #expect(try !ValueParsing.boolean(no)) }
        #expect(throws: ValueError(expected: "on or off", got: "enabled")) { try ValueParsing.boolean("enabled") }
    }

    @Test func integers() throws {
        #expect(try ValueParsing.integer("42", in: 0...100) == 42)
        #expect(try ValueParsing.integer("-3", in: -5...5) == -3)
        #expect(throws: ValueError(expected: "a whole number from 1 to 256", got: "300")) {
            try ValueParsing.integer("300", in: 1...256)
        }
        for bad in ["", "1.5", "+1", "0x10", "ten", "-1", "99999999999999999999"] {
            #expect(throws: ValueError.self, "\(bad)") { try ValueParsing.integer(bad, in: 0...Int.max) }
        }
    }

    @Test func choices() throws {
        let levels = LogLevel.allCases.map { ($0.rawValue, $0) }
        #expect(try ValueParsing.choice("warning", levels) == .warning)
        do {
            _ = try ValueParsing.choice("warn", levels)
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("did you mean 'warning'?"))
            #expect(error.description.hasPrefix("expected one of trace, debug, info"))
        }
    }

    @Test func options() {
        #expect(
            ValueParsing.options(" 10.0.0.1:80  zone=az1\tbackup ") == [
                ValueOption(name: nil, value: "10.0.0.1:80"), ValueOption(name: "zone", value: "az1"),
                ValueOption(name: nil, value: "backup"),
            ])
    }

    @Test(arguments: [
        ("0.0.0.0:8080", "0.0.0.0", 8080), ("127.0.0.1:8080", "127.0.0.1", 8080), ("[::1]:8080", "::1", 8080),
        ("[::]:443", "::", 443), (":8080", "0.0.0.0", 8080), ("8080", "0.0.0.0", 8080), ("localhost:0", "localhost", 0),
        ("[fe80::1%eth0]:80", "fe80::1%eth0", 80), (" 10.1.2.3:65535 ", "10.1.2.3", 65535),
    ])
    func listenAddresses(text: String, host: String, port: Int) throws {
        let address = try ListenAddress(text)
        #expect(address == ListenAddress(host: host, port: port))
        #expect(try ListenAddress(address.description) == address)
    }

    @Test func listenAddressDescription() {
        #expect(ListenAddress(host: "::1", port: 8080).description == "[::1]:8080")
        #expect(ListenAddress(host: "0.0.0.0", port: 80).description == "0.0.0.0:80")
        #expect(UpstreamServerConfig(host: "fd00::5", port: 81).address == "[fd00::5]:81")
        #expect(UpstreamServerConfig(host: "users.internal", port: 81).address == "users.internal:81")
    }

    @Test(arguments: [
        "", "::1:8080", "[::1]", "[::1]8080", "[]:80", "[zz::1]:80", "1.2.3.4:65536", "1.2.3.4:-1", "host:",
        "256.1.1.1:80", "1.2.3:80", "a b:80", "http://x:80", "[::1]:http",
    ])
    func badListenAddresses(text: String) {
        #expect(throws: ValueError.self) { try ListenAddress(text) }
    }

    @Test func ipv6WithoutBracketsSaysSo() {
        do {
            _ = try ListenAddress("::1:8080")
            Issue.record("expected an error")
        } catch {
            #expect(error.description.contains("IPv6 address goes in brackets"))
        }
    }
}

@Suite struct HealthCheckConfigTests {
    @Test func parsesEveryOption() throws {
        let config = try HealthCheckConfig.parse(
            "HEAD /status interval=500ms timeout=200ms rise=1 fall=4 expect=200,204,300-399 host=svc.internal initial=unhealthy")
        #expect(config.method == "HEAD")
        #expect(config.path == "/status")
        #expect(config.interval == .milliseconds(500))
        #expect(config.timeout == .milliseconds(200))
        #expect(config.rise == 1 && config.fall == 4)
        #expect(config.expect == [200...200, 204...204, 300...399])
        #expect(config.host == "svc.internal")
        #expect(!config.initiallyHealthy)
        #expect(config.accepts(status: 204) && config.accepts(status: 301) && !config.accepts(status: 201))
    }

    @Test func defaultsAndPathOnly() throws {
        #expect(try HealthCheckConfig.parse("/healthz") == HealthCheckConfig())
        #expect(try HealthCheckConfig.parse("GET /healthz") == HealthCheckConfig())
    }

    @Test(arguments: ["get /x", "GET healthz", "GET /x interval=0s", "GET /x rise=0", "GET /x expect=600", "GET /x expect=399-200", "GET /x intervl=2s", "GET /x initial=maybe", "GET /x bare"])
    func rejects(text: String) {
        #expect(throws: ValueError.self) { try HealthCheckConfig.parse(text) }
    }
}

@Suite struct OutlierAndHashKeyConfigTests {
    @Test func parsesOutlierOptions() throws {
        let config = try OutlierConfig.parse(
            "consecutive_5xx=3 consecutive_gateway_failure=0 ejection=10s max_ejection=1m max_ejected=25% interval=5s success_rate=on")
        #expect(config == OutlierConfig(
            consecutive5xx: 3, consecutiveGatewayFailure: 0, ejection: .seconds(10), maxEjection: .seconds(60),
            maxEjectedPercent: 0.25, interval: .seconds(5), successRate: true))
        #expect(try OutlierConfig.parse("") == OutlierConfig())
    }

    @Test(arguments: ["consecutive5xx=3", "ejection=0s", "ejection=1m max_ejection=10s", "max_ejected=150%", "bogus"])
    func rejectsBadOutlier(text: String) {
        #expect(throws: ValueError.self) { try OutlierConfig.parse(text) }
    }

    @Test func parsesHashKeys() throws {
        #expect(try HashKey.parse("header:X-User-Id") == .header("x-user-id"))
        #expect(try HashKey.parse("cookie:session") == .cookie("session"))
        #expect(try HashKey.parse("client_ip") == .clientIP)
        #expect(try HashKey.parse("path") == .path)
        #expect(throws: ValueError.self) { try HashKey.parse("header:") }
        #expect(throws: ValueError.self) { try HashKey.parse("ip") }
    }
}
