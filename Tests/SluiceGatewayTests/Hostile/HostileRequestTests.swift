import Logging
import SluiceConfig
import SluiceGateway
import SluiceTestSupport
import Testing

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One row of `Tests/Hostile/cases.json`: raw bytes a client sends, and what must come of them, at the client and
/// at the upstream. `scripts/hostile` runs the same table against nginx and HAProxy.
struct HostileCase: Decodable, Sendable, CustomTestStringConvertible {
    struct Expectation: Decodable, Sendable {
        var status: Int?
        /// nil: either is fine.
        var close: Bool?
        /// nil: any number.
        var upstream: Int?
        var responses: Int?
        var upstream_path: String?
        var upstream_paths: [String]?
        var upstream_headers_absent: [String]?
        var upstream_header: [String: String]?
        var upstream_body: String?
        var no_interim: Bool?
        var no_chunked_response: Bool?
    }

    struct Repeat: Decodable, Sendable {
        var token: String
        var text: String
        var count: Int
    }

    var name: String
    var group: String?
    var raw: String?
    var raw_hex: String?
    var repeats: [Repeat]
    var half_close: Bool?
    var expect: Expectation
    var note: String?

    enum CodingKeys: String, CodingKey {
        case name, group, raw, raw_hex, half_close, expect, note, `repeat`
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        name = try container.decode(String.self, forKey: .name)
        group = try container.decodeIfPresent(String.self, forKey: .group)
        raw = try container.decodeIfPresent(String.self, forKey: .raw)
        raw_hex = try container.decodeIfPresent(String.self, forKey: .raw_hex)
        half_close = try container.decodeIfPresent(Bool.self, forKey: .half_close)
        expect = try container.decode(Expectation.self, forKey: .expect)
        note = try container.decodeIfPresent(String.self, forKey: .note)
        if let list = try? container.decodeIfPresent([Repeat].self, forKey: .repeat) {
            repeats = list
        } else {
            repeats = try container.decodeIfPresent(Repeat.self, forKey: .repeat).map { [$0] } ?? []
        }
    }

    var testDescription: String { name }

    /// The bytes to send: `raw` is latin-1 (each character one byte), with its `repeat` tokens expanded.
    var bytes: [UInt8] {
        if let raw_hex {
            let digits = raw_hex.filter { !$0.isWhitespace }
            var bytes: [UInt8] = []
            var index = digits.startIndex
            while index < digits.endIndex {
                let next = digits.index(index, offsetBy: 2)
                bytes.append(UInt8(digits[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        }
        var text = raw ?? ""
        for expansion in repeats {
            text = text.replacingAll(expansion.token, with: String(repeating: expansion.text, count: expansion.count))
        }
        return Self.latin1(text)
    }

    static func latin1(_ text: String) -> [UInt8] { text.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) } }

    static let all: [HostileCase] = {
        let file = URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Hostile/cases.json")
        guard let data = try? Data(contentsOf: file) else { return [] }
        return (try? JSONDecoder().decode([HostileCase].self, from: data)) ?? []
    }()
}


/// The gateway every hostile case runs against: the configuration `scripts/hostile` gives Sluice.
actor HostileGateway {
    static let shared = HostileGateway()

    private var started: (gateway: Gateway, port: Int, upstream: RecordingUpstream)?

    func get() async throws -> (port: Int, upstream: RecordingUpstream) {
        if let started { return (started.port, started.upstream) }
        let upstream = try await RecordingUpstream.start()
        let config = try ConfigLoader.parse(Self.config(upstream: upstream.port))
        var logger = Logger(label: "test.hostile")
        logger.logLevel = .critical
        let gateway = try Gateway(config: config, logger: logger)
        try await gateway.start()
        let port = gateway.listeningAddresses[0].port!
        started = (gateway, port, upstream)
        return (port, upstream)
    }

    /// Cases run one at a time: the upstream's record belongs to the case that runs.
    func run<T: Sendable>(_ body: @Sendable (Int, RecordingUpstream) async throws -> T) async throws -> T {
        let (port, upstream) = try await get()
        upstream.reset()
        return try await body(port, upstream)
    }

    static func config(upstream: Int) -> String {
        """
        [server]
        listen = 127.0.0.1:0
        max_header_size = 16k
        max_body_size = 1m
        access_log = off
        log_level = error

        [upstream rec]
        server = 127.0.0.1:\(upstream)

        [route internal]
        match = /internal/*
        upstream = rec
        rate_limit = 1000/s burst=1000

        [route all]
        match = /*
        upstream = rec
        websocket = off
        """
    }
}

@Suite(.serialized) struct HostileRequestTests {
    @Test func theTableIsThere() {
        #expect(HostileCase.all.count >= 60, "Tests/Hostile/cases.json holds the hostile-input table")
        #expect(Set(HostileCase.all.map(\.name)).count == HostileCase.all.count, "case names are unique")
    }

    @Test(arguments: HostileCase.all)
    func hostileRequest(_ hostile: HostileCase) async throws {
        let expect = hostile.expect
        let interimOnly = expect.status.map { $0 < 200 } ?? false
        let expected = expect.responses ?? (expect.status == nil || interimOnly ? 0 : 1)
        // A live, in-step connection answers a probe; where the request is still open (an interim answer) or
        // either outcome is fine, the probe would only be read as its body.
        let probe = expect.close == false && !interimOnly && expected > 0 ? Array("GET /__probe HTTP/1.1\r\nHost: probe\r\n\r\n".utf8) : nil
        let isHead = hostile.bytes.starts(with: Array("HEAD ".utf8))
        let (exchange, recorded, garbage) = try await HostileGateway.shared.run { port, upstream in
            let exchange = try await offload {
                try RawHTTPClient.exchange(
                    port: port, bytes: hostile.bytes, halfClose: hostile.half_close ?? false, expected: expected,
                    probe: probe, headRequest: isHead, awaitClose: expect.close == true, timeout: 2)
            }
            return (exchange, upstream.requests, upstream.garbage)
        }
        let context = Comment(rawValue: "\(hostile.name): \(hostile.note ?? "")")
        let first = exchange.responses.first?.status ?? (expected == 0 ? exchange.interim.first : nil)
        #expect(first == expect.status, context)
        #expect(exchange.responses.count == expected, "final responses: \(context)")
        switch expect.close {
        case true?: #expect(exchange.closed, "the connection must be closed: \(context)")
        case false? where probe != nil: #expect(exchange.probeAnswered, "the connection must stay open and in step: \(context)")
        case false?: #expect(!exchange.closed, "the connection must stay open: \(context)")
        case nil: break
        }
        if expect.no_interim == true { #expect(exchange.interim.isEmpty, "no 1xx: \(context)") }
        if expect.no_chunked_response == true {
            #expect(!exchange.responses.contains { $0.header("transfer-encoding") != nil }, "no chunked answer: \(context)")
        }
        #expect(garbage == 0, "the upstream received bytes that are not a request: \(context)")
        if let count = expect.upstream { #expect(recorded.count == count, "requests that reached the upstream: \(context)") }
        if let paths = expect.upstream_paths { #expect(recorded.map(\.uri) == paths, context) }
        for entry in expect.upstream_headers_absent ?? [] {
            let parts = entry.split(separator: ":", maxSplits: 1).map { String($0.drop { $0 == " " }) }
            for request in recorded {
                if parts.count == 2 {
                    #expect(!request.headers.contains { $0.name.lowercased() == parts[0].lowercased() && $0.value == parts[1] },
                            "\(entry) must not reach the upstream: \(context)")
                } else {
                    #expect(request.header(parts[0]) == nil, "\(entry) must not reach the upstream: \(context)")
                }
            }
        }
        guard let request = recorded.first else { return }
        if let path = expect.upstream_path { #expect(request.uri == path, context) }
        for (name, value) in expect.upstream_header ?? [:] {
            let values = request.headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
            #expect(values.joined(separator: ", ") == value, "\(name) at the upstream: \(context)")
        }
        if let body = expect.upstream_body { #expect(request.body == HostileCase.latin1(body), context) }
    }
}
