import Foundation
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// The status page in a real browser: headless Chromium (Debian's `chromium`, installed by `.ci/run`) loads it from
/// a running gateway's admin listener; the rendered DOM must show the zones, the servers and their states.
@Suite(.serialized) struct StatusPageBrowserTests {
    static let chromium = "/usr/bin/chromium"

    /// The DOM after the page's scripts ran (it fetches `/status` on load).
    static func render(_ url: String, screenshot: String? = nil) async throws -> String {
        let profile = try makeTemporaryDirectory("sluice-chromium")
        defer { try? FileManager.default.removeItem(atPath: profile) }
        var arguments = [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--user-data-dir=\(profile)", "--virtual-time-budget=5000", "--window-size=1280,900",
        ]
        arguments += screenshot.map { ["--screenshot=\($0)"] } ?? ["--dump-dom"]
        let output = try await Command.run(Self.chromium, arguments + [url], timeout: .seconds(90))
        #expect(output.status == 0, "chromium: \(output.stderr.suffix(2000))")
        return output.stdout
    }

    @Test func thePageShowsZonesServersAndTheirStates() async throws {
        #expect(Command.available(Self.chromium), "headless Chromium is needed: apt-get install chromium")
        try await OperationsFixture.with(healthCheck: false) { fixture in
            let a1 = "127.0.0.1:\(fixture.backends[0].server.port!)"
            let b1 = "127.0.0.1:\(fixture.backends[1].server.port!)"
            #expect(try await fixture.admin("/drain?upstream=demo&server=\(a1)&state=on", method: "POST", token: true).status == 200)
            #expect(try await fixture.admin("/degrade?route=users&state=on", method: "POST", token: true).status == 200)
            let url = "http://127.0.0.1:\(fixture.adminPort)/"
            let dom = try await Self.render(url)
            #expect(dom.contains("id=\"updated\"") && dom.contains(">updated "), "the page never rendered /status")
            #expect(dom.contains("data-zone=\"az1\"") && dom.contains("data-zone=\"az2\""))
            #expect(dom.contains("data-upstream=\"demo\""))
            #expect(dom.contains("data-address=\"\(a1)\" data-state=\"drained\""))
            #expect(dom.contains("data-address=\"\(b1)\" data-state=\"up\""))
            #expect(dom.contains("data-route=\"users\" data-degraded=\"true\""))
            #expect(dom.contains("data-route=\"everything\" data-degraded=\"false\""))
            #expect(dom.contains("breaker breaker-closed"))
            // A picture for people: under .build/, kept by CI's workspace.
            try FileManager.default.createDirectory(atPath: ".build", withIntermediateDirectories: true)
            let path = FileManager.default.currentDirectoryPath + "/.build/status-page.png"
            try? FileManager.default.removeItem(atPath: path)
            _ = try await Self.render(url, screenshot: path)
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size > 10_000, "no screenshot at \(path)")
        }
    }
}
