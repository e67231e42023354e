import SluiceDemoApp
import SluiceServer
import SluiceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

#if canImport(Foundation)
import Foundation
#endif

/// The `sluiced` executable run as a real process, the way systemd or an operator runs it.
@Suite(.serialized) struct SluicedProcessTests {
    static var binary: String {
        URL(fileURLWithPath: DemoProcessTests.binary).deletingLastPathComponent().appendingPathComponent("sluiced").path
    }

    static func temporaryDirectory() -> String {
        var template = Array("/tmp/sluiced-test-XXXXXX".utf8CString)
        return template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)) }
    }

    static func write(_ text: String, to path: String) throws {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
    }

    static func run(_ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = arguments
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = errors
        try process.run()
        let data = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    static func config(port: Int, backend: Int) -> String {
        """
        [server]
        listen = 127.0.0.1:\(port)
        access_log = off

        [upstream demo]
        server = 127.0.0.1:\(backend)

        [route all]
        match = /*
        upstream = demo
        """
    }

    @Test func checkModeAcceptsAValidConfig() throws {
        let directory = Self.temporaryDirectory()
        try Self.write(Self.config(port: 18999, backend: 18998), to: directory + "/ok.ini")
        let result = try Self.run(["-t", "-c", directory + "/ok.ini"])
        #expect(result.status == 0)
        #expect(result.output.contains("test is successful"))
    }

    @Test func checkModeListsEveryErrorWithFileAndLine() throws {
        let directory = Self.temporaryDirectory()
        let text = """
            [server]
            listen = 127.0.0.1:18999
            timeuot = 5s

            [upstream demo]
            server = 127.0.0.1:18998

            [route all]
            match = /*
            upstream = demoo
            """
        try Self.write(text, to: directory + "/bad.ini")
        let result = try Self.run(["-t", "-c", directory + "/bad.ini"])
        #expect(result.status == 1)
        #expect(result.output.contains("bad.ini:3"), "\(result.output)")
        #expect(result.output.contains("timeuot"))
        #expect(result.output.contains("bad.ini:10"), "\(result.output)")
        #expect(result.output.contains("did you mean 'demo'"), "\(result.output)")
    }

    @Test func speaksSdNotifyReloadsOnHUPAndDrainsOnTERM() async throws {
        let backend = DemoBackend(configuration: .init(name: "n1", quiet: true))
        let backendServer = try await backend.start()
        let directory = Self.temporaryDirectory()
        let configPath = directory + "/sluice.ini"
        let port = try await freePort()
        try Self.write(Self.config(port: port, backend: backendServer.port!), to: configPath)
        let notify = try NotifySocket()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["-c", configPath]
        process.environment = ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "400000", "PATH": "/usr/bin:/bin"]
            .merging(ProcessInfo.processInfo.environment.filter { $0.key.hasSuffix("SAN_OPTIONS") }) { $1 }  // sanitizers
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        let ready = try #require(try await notify.wait(for: "READY=1"))
        #expect(ready.contains("STATUS=serving on"))
        #expect(try await TestHTTP.request(port: port, "GET", "/ping").status == 200)
        #expect(try await notify.wait(for: "WATCHDOG=1") != nil, "the watchdog pings at half of WATCHDOG_USEC")

        // A valid reload: RELOADING=1 with MONOTONIC_USEC, then READY=1 again.
        try Self.write(Self.config(port: port, backend: backendServer.port!) + "\n[route extra]\nmatch = /x/*\nupstream = demo\n", to: configPath)
        kill(process.processIdentifier, SIGHUP)
        let reloading = try #require(try await notify.wait(for: "RELOADING=1"))
        #expect(reloading.contains("MONOTONIC_USEC="))
        let reloaded = try #require(try await notify.wait(for: "READY=1"))
        #expect(reloaded.contains("generation 2"))

        // An invalid one: logged, the running configuration keeps serving.
        try Self.write("[server]\nlisten = nonsense\n", to: configPath)
        kill(process.processIdentifier, SIGHUP)
        let failed = try #require(try await notify.wait(for: "READY=1"))
        #expect(failed.contains("reload failed"))
        #expect(try await TestHTTP.request(port: port, "GET", "/ping").status == 200)

        kill(process.processIdentifier, SIGTERM)
        #expect(try await notify.wait(for: "STOPPING=1") != nil)
        try await offload { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
        await backendServer.shutdown()
    }

    /// logrotate's `postrotate` (SIGUSR1), `POST /reload` on the admin API, and TERM, on the real daemon.
    @Test func reopensItsLogOnUSR1ReloadsByTheAdminAPIAndStopsOnTERM() async throws {
        let backend = DemoBackend(configuration: .init(name: "n2", quiet: true))
        let backendServer = try await backend.start()
        let directory = Self.temporaryDirectory()
        let configPath = directory + "/sluice.ini"
        let logPath = directory + "/access.log"
        let port = try await freePort()
        let adminPort = try await freePort()
        let text = Self.config(port: port, backend: backendServer.port!)
            .replacingOccurrences(of: "access_log = off", with: """
                access_log = access.log
                access_log_format = json
                admin = 127.0.0.1:\(adminPort)
                admin_token = process-test-token-0123
                """)
        try Self.write(text, to: configPath)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["-c", configPath]
        process.standardError = FileHandle.nullDevice
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        func lines(_ path: String, atLeast count: Int) async throws -> [String] {
            let deadline = ContinuousClock.now + .seconds(10)
            while true {
                let lines = ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").split(separator: "\n").map(String.init)
                if lines.count >= count || ContinuousClock.now > deadline { return lines }
                try await Task.sleep(for: .milliseconds(50))
            }
        }
        var first: TestResponse?
        for _ in 0..<100 where first == nil {  // until it listens
            first = try? await TestHTTP.request(port: port, "GET", "/ping")
            if first == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(first?.status == 200)
        #expect(try await lines(logPath, atLeast: 1).first?.contains("\"path\":\"/ping\"") == true)

        #expect(rename(logPath, logPath + ".1") == 0)
        kill(process.processIdentifier, SIGUSR1)
        // The reopened file appears by its name; a request after it is written there.
        let deadline = ContinuousClock.now + .seconds(10)
        while access(logPath, F_OK) != 0 && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        #expect(try await TestHTTP.request(port: port, "GET", "/ping?after-rotation").status == 200)
        #expect(try await lines(logPath, atLeast: 1).contains { $0.contains("after-rotation") })
        #expect(try await lines(logPath + ".1", atLeast: 1).count == 1)

        let reload = try await TestHTTP.request(
            port: adminPort, "POST", "/reload", headers: [("Authorization", "Bearer process-test-token-0123")])
        #expect(reload.status == 200 && reload.text.contains("\"generation\": 2"), "\(reload.text)")
        try Self.write("[server]\nlisten = nonsense\n", to: configPath)
        let refused = try await TestHTTP.request(
            port: adminPort, "POST", "/reload", headers: [("Authorization", "Bearer process-test-token-0123")])
        #expect(refused.status == 422 && refused.text.contains("listen"), "\(refused.text)")
        let metrics = try await TestHTTP.request(port: adminPort, "GET", "/metrics")
        #expect(metrics.text.contains("sluice_config_reloads_total{result=\"failure\"} 1"))

        kill(process.processIdentifier, SIGTERM)
        try await offload { process.waitUntilExit() }
        #expect(process.terminationStatus == 0)
        await backendServer.shutdown()
    }
}

/// A port that was free a moment ago.
func freePort() async throws -> Int {
    let server = HTTPServer(configuration: ServerConfiguration(port: 0)) { _ in }
    try await server.start()
    let port = server.port!
    await server.shutdown()
    return port
}
