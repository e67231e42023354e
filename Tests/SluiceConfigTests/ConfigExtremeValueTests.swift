import SluiceConfig
import Testing

/// One numeric, duration or size key (or option of a key), with the range `etc/sluice.ini` states for it.
struct KeyRange: Sendable, CustomStringConvertible {
    enum Section: Sendable { case server, upstream, route, protection, ratelimit }

    enum Kind: Sendable {
        case count(ClosedRange<Int>)
        case size(ClosedRange<Int>)
        case duration(ClosedRange<Duration>)
        /// A percentage from 0% (or from just above it) to 100%.
        case share(positive: Bool)
        /// Values given by hand: what must load, what must not, and the range of what loads.
        case listed(accept: [String], reject: [String], range: ClosedRange<Double>)
    }

    let section: Section
    let key: String
    /// The option the value is for (`interval` in `health_check = GET /h interval=2s`); nil for the key's own value.
    let option: String?
    /// The value of the line, `{}` standing for the value under test.
    let template: String
    let kind: Kind
    /// The value as loaded (seconds, bytes, a count, a share 0...1); nil when it is not there.
    let read: @Sendable (GatewayConfig) -> Double?

    var description: String { option.map { "\(key) \($0)=" } ?? key }

    /// The range as numbers `read` returns.
    var range: ClosedRange<Double> {
        switch kind {
        case .count(let range), .size(let range): Double(range.lowerBound)...Double(range.upperBound)
        case .duration(let range): seconds(range.lowerBound)...seconds(range.upperBound)
        case .share(let positive): (positive ? Double.leastNonzeroMagnitude : 0)...1
        case .listed(_, _, let range): range
        }
    }

    /// Values at the edges of the range, each with what it must load as.
    var edges: [(text: String, value: Double?)] {
        switch kind {
        case .count(let range):
            [(String(range.lowerBound), Double(range.lowerBound)), (String(range.upperBound), Double(range.upperBound))]
        case .size(let range):
            [
                (ValueParsing.sizeText(range.lowerBound), Double(range.lowerBound)),
                (ValueParsing.sizeText(range.upperBound), Double(range.upperBound)),
                (String(range.upperBound), Double(range.upperBound)),
            ]
        case .duration(let range):
            [
                (ValueParsing.text(range.lowerBound), seconds(range.lowerBound)),
                (ValueParsing.text(range.upperBound), seconds(range.upperBound)),
            ]
        case .share(let positive): [(positive ? "0.000000001%" : "0%", nil), ("100%", 1)]
        case .listed(let accept, _, _): accept.map { ($0, nil) }
        }
    }

    /// Values just past the range.
    var beyond: [String] {
        switch kind {
        case .count(let range):
            [String(range.upperBound + 1), range.lowerBound > 0 ? String(range.lowerBound - 1) : "-1"]
        case .size(let range):
            [String(range.upperBound + 1), range.lowerBound > 0 ? String(range.lowerBound - 1) : "-1"]
        case .duration(let range):
            [
                ValueParsing.text(range.upperBound + .nanoseconds(1)),
                range.lowerBound > .zero ? ValueParsing.text(range.lowerBound - .nanoseconds(1)) : "-1s",
            ]
        case .share(let positive): ["100.000000001%", positive ? "0%" : "-1%"]
        case .listed(_, let reject, _): reject
        }
    }
}

func seconds(_ duration: Duration) -> Double {
    Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
}

/// Feeds every numeric, duration and size key the values at and past its stated range and at and past the limits
/// of 64-bit arithmetic. Each must either fail with errors that all name the file, the line, the section and the key
/// (and the option), or load with a value inside the stated range. Nothing may crash.
@Suite struct ConfigExtremeValueTests {
    static let file = "extreme.ini"

    /// Text at the limits of 64-bit integers and nanoseconds, in every notation a hand might try.
    static let extremes = [
        "0", "-1", "1", "9223372036854775807", "9223372036854775808", "-9223372036854775808", "99999999999999999999",
        "9223372036s", "9223372036.854775807s", "9223372036854775807ns", "99999999999999999999ms", "106752d",
        "1e30", "1e999", "1e30s", "9999999999999999k", "8796093022208m", "9999999g", "1t", "", "-0", "+5", "0x10",
        "1d", "25h", "1ns", "0s", "100%", "101%", "1e30%", "99999999999%", "-5%", "nan", "inf", "1.5",
    ]

    /// The config around the line under test, and the line's number and section header.
    static func document(_ range: KeyRange, value: String) -> (text: String, line: Int, header: String) {
        let entry = "\(range.key) = " + range.template.replacing("{}", with: value)
        let head = "[server]\nlisten = 127.0.0.1:8080\n"
        let upstream = "[upstream users]\nserver = 10.0.0.1:80\n"
        switch range.section {
        case .server: return (head + entry + "\n" + upstream, 3, "[server]")
        case .upstream: return (head + upstream + entry + "\n", 5, "[upstream users]")
        case .route:
            // `upstream` is the key under test, or the route's own.
            let own = range.key == "upstream" ? "" : "upstream = users\n"
            return (head + upstream + "[route r]\nmatch = /\n" + own + entry + "\n", own.isEmpty ? 7 : 8, "[route r]")
        case .protection: return (head + upstream + "[protection]\n" + entry + "\n", 6, "[protection]")
        case .ratelimit:
            if range.key == "backend" { return (head + upstream + "[ratelimit]\n" + entry + "\n", 6, "[ratelimit]") }
            let backend = "backend = redis://127.0.0.1:6379\n"
            return (head + upstream + "[ratelimit]\n" + backend + entry + "\n", 7, "[ratelimit]")
        }
    }

    enum Outcome {
        case loaded(Double?)
        case refused
    }

    /// Loads the value; records an issue when an error is misplaced or a loaded value is outside the range.
    static func check(_ range: KeyRange, _ value: String) -> Outcome {
        let (text, line, header) = document(range, value: value)
        let context = "\(range) '\(value)'"
        do {
            let config = try ConfigLoader.parse(text, file: file)
            let loaded = range.read(config)
            if let loaded {
                if !range.range.contains(loaded) { Issue.record("\(context) loaded \(loaded), outside \(range.range)") }
            } else {
                Issue.record("\(context) loaded, but the value is not in the config")
            }
            return .loaded(loaded)
        } catch {
            let place = "\(file):\(line): \(header) \(range.key): "
            for problem in error.errors {
                if !problem.description.hasPrefix(place) { Issue.record("\(context): misplaced error: \(problem)") }
                if let option = range.option, !problem.message.contains(option) {
                    Issue.record("\(context): the error does not name \(option): \(problem)")
                }
            }
            if error.errors.isEmpty { Issue.record("\(context): an empty error list") }
            return .refused
        }
    }

    @Test func everyKeyHoldsItsRange() {
        for range in Self.keys {
            for (text, expected) in range.edges {
                switch Self.check(range, text) {
                case .refused: Issue.record("\(range) '\(text)' is in its stated range but was refused")
                case .loaded(let value):
                    if let expected, value != expected { Issue.record("\(range) '\(text)' loaded as \(value as Any)") }
                }
            }
            for text in range.beyond {
                if case .loaded = Self.check(range, text) { Issue.record("\(range) '\(text)' is past its range") }
            }
            for text in Self.extremes { _ = Self.check(range, text) }
        }
    }

    /// Every key the reference file documents is in the table above, or is known to take no number.
    @Test func theTableCoversEveryNumericKey() throws {
        let reference = try #require(readFile(ConfigLoaderTests.packageRoot + "/etc/sluice.ini"))
        var documented = Set<String>()
        for line in reference.split(separator: "\n") {
            let text = line.hasPrefix("; ") ? line.dropFirst(2) : line[...]
            guard let equals = text.firstRange(of: " = ") else { continue }
            let key = text[..<equals.lowerBound]
            if !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) {
                documented.insert(String(key))
            }
        }
        let textual: Set = [
            "zone", "access_log", "log_level", "trusted_proxies", "include", "balance", "hash_key", "match", "host",
            "methods", "split_key", "canary", "retry_non_idempotent", "host_rewrite", "priority", "fault_header",
            "adaptive", "merge_slashes", "escaped_slashes", "admin_token", "certificate", "tls_min_version",
            "redirect_https", "protocol", "tls", "tls_verify", "tls_ca", "tls_sni", "hsts", "gzip", "gzip_types",
            "websocket", "access_log_format", "metrics", "strip_prefix", "add_prefix", "rewrite", "request_header",
            "response_header", "hide_header", "return", "cors", "allow", "deny", "auth", "auth_identity_header",
            "jwt_keys", "jwt_issuer", "jwt_audience", "jwt_required_claims", "jwt_identity_claim", "jwt_claim_header",
            "jwt_from", "api_keys", "api_key_from", "htpasswd", "auth_realm", "forward_auth_request_headers",
            "forward_auth_response_headers", "forward_auth_identity_header", "auth_failure", "resolver",
        ]
        let covered = Set(Self.keys.map(\.key))
        #expect(documented.subtracting(textual).subtracting(covered).sorted() == [])
        #expect(covered.subtracting(documented).sorted() == [])
    }
}
