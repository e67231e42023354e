import Foundation
import Logging
import NIOCore
import NIOPosix
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// A gateway in front of a `RecordingUpstream` (as `[upstream rec]`), configured with `routes`, for the filter
/// tests. `{rec}` in the text is the recorder's port, `{dir}` a fresh folder the test's `files` are written to.
struct FilterFixture {
    let gateway: Gateway
    /// The listener's port (a reload of `listen = 127.0.0.1:0` binds a new one).
    var port: Int { gateway.listeningAddresses.first!.port! }
    let upstream: RecordingUpstream
    let folder: String

    static func with(
        _ routes: String, files: [String: String] = [:], server: String = "", upstreams: String = "",
        answerHeaders: [(String, String)] = [], h2c: Bool = false, _ body: (FilterFixture) async throws -> Void
    ) async throws {
        let upstream = try await RecordingUpstream.start(answerHeaders: answerHeaders)
        let folder = try makeTemporaryDirectory("sluice-filters")
        for (name, text) in files {
            try text.write(toFile: folder + "/" + name, atomically: true, encoding: .utf8)
        }
        func fill(_ text: String) -> String {
            text.replacingOccurrences(of: "{rec}", with: "\(upstream.port)").replacingOccurrences(of: "{dir}", with: folder)
        }
        let text = """
            [server]
            listen = 127.0.0.1:0\(h2c ? " h2c" : "")
            access_log = off
            \(fill(server))

            [upstream rec]
            server = 127.0.0.1:\(upstream.port)

            \(fill(upstreams))

            \(fill(routes))
            """
        var logger = Logger(label: "test.filters")
        logger.logLevel = .critical
        let gateway = try Gateway(config: try ConfigLoader.parse(text, file: folder + "/sluice.ini"), logger: logger)
        try await gateway.start()
        let fixture = FilterFixture(gateway: gateway, upstream: upstream, folder: folder)
        do {
            try await body(fixture)
        } catch {
            await fixture.stop()
            throw error
        }
        await fixture.stop()
    }

    func stop() async {
        await gateway.shutdown()
        await gateway.closeUpstreams()
        await upstream.stop()
        try? FileManager.default.removeItem(atPath: folder)
    }

    func request(
        _ method: String, _ target: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> TestResponse {
        try await TestHTTP.request(port: port, method, target, headers: headers, body: body)
    }

    func request(_ target: String, headers: [(String, String)] = []) async throws -> TestResponse {
        try await TestHTTP.request(port: port, "GET", target, headers: headers)
    }

    /// The last request the upstream received.
    var last: RecordingUpstream.Request? { upstream.requests.last }

    /// curl's exit status, the answer's status line and headers (`-i`), and its body, for requests as a real client
    /// sends them.
    func curl(_ arguments: [String]) async throws -> String {
        let output = try await Command.run("/usr/bin/curl", ["-sS", "-i", "--max-time", "10"] + arguments)
        return output.stdout
    }
}
