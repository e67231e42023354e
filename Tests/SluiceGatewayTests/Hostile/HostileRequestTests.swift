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
        var close: Bool
        var upstream: Int
        var responses: Int?
        var upstream_path: String?
        var upstream_headers_absent: [String]?
        var upstream_header: [String: String]?
        var upstream_body: String?
    }

    var name: String
    var group: String?
    var raw: String?
    var raw_hex: String?
    var half_close: Bool?
    var expect: Expectation
    var note: String?

    var testDescription: String { name }

    var bytes: [UInt8] {
        if let raw_hex {
            var bytes: [UInt8] = []
            var index = raw_hex.startIndex
            while index < raw_hex.endIndex {
                let next = raw_hex.index(index, offsetBy: 2)
                bytes.append(UInt8(raw_hex[index..<next], radix: 16)!)
                index = next
            }
            return bytes
        }
        return Array((raw ?? "").utf8)
    }

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
        let expected = expect.responses ?? (expect.status == nil ? 0 : 1)
        let probe = Array("GET /__probe HTTP/1.1\r\nHost: probe\r\n\r\n".utf8)
        let isHead = hostile.bytes.starts(with: Array("HEAD ".utf8))
        let (exchange, recorded, garbage) = try await HostileGateway.shared.run { port, upstream in
            let exchange = try await offload {
                try RawHTTPClient.exchange(
                    port: port, bytes: hostile.bytes, halfClose: hostile.half_close ?? false, expected: expected,
                    probe: expect.close ? nil : probe, headRequest: isHead, awaitClose: expect.close)
            }
            return (exchange, upstream.requests, upstream.garbage)
        }
        let context = Comment(rawValue: "\(hostile.name): \(hostile.note ?? "")")
        #expect(!exchange.stalled, "the gateway neither answered nor closed: \(context)")
        #expect(exchange.responses.first?.status == expect.status, context)
        #expect(exchange.responses.count == expected, context)
        if expect.close {
            #expect(exchange.closed, "the connection must be closed: \(context)")
        } else {
            #expect(exchange.probeAnswered, "the connection must stay open and in step: \(context)")
        }
        #expect(garbage == 0, "the upstream received bytes that are not a request: \(context)")
        #expect(recorded.count == expect.upstream, "requests that reached the upstream: \(context)")
        guard let first = recorded.first else { return }
        if let path = expect.upstream_path { #expect(first.uri == path, context) }
        for name in expect.upstream_headers_absent ?? [] {
            #expect(first.header(name) == nil, "\(name) must not reach the upstream: \(context)")
        }
        for (name, value) in expect.upstream_header ?? [:] {
            #expect(first.header(name) == value, "\(name) at the upstream: \(context)")
        }
        if let body = expect.upstream_body { #expect(first.body == Array(body.utf8), context) }
    }
}
