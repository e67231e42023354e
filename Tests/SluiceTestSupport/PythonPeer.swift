import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// A Python peer of a test's own (`Tests/Scripts/NAME.py server PORT_FILE`): started with the `python3` on PATH,
/// ready once it wrote its port to PORT_FILE, stopped by its PID with SIGKILL (children inherit the test runner's
/// ignored SIGTERM, so SIGTERM may not stop them).
public final class PythonPeer: @unchecked Sendable {
    public let port: Int
    private let process = Process()
    private var stopped = false

    /// `Tests/Scripts/NAME.py`.
    public static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Scripts/\(name).py").path
    }

    public init(script name: String, directory: String) async throws {
        let portFile = "\(directory)/\(name).port"
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", Self.script(name), "server", portFile]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        var port: Int?
        for _ in 0..<400 where port == nil {
            port = (try? String(contentsOfFile: portFile, encoding: .utf8)).flatMap { Int($0) }
            if port == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        guard let port else {
            kill(process.processIdentifier, SIGKILL)
            throw TestFailure("\(name).py did not start (is its Python package installed? .ci/run installs it)")
        }
        self.port = port
    }

    /// Kills the peer by its PID and reaps it; at most once, whatever `isRunning` says.
    public func stop() {
        guard !stopped else { return }
        stopped = true
        kill(process.processIdentifier, SIGKILL)
        if process.isRunning { process.waitUntilExit() }
    }

    deinit { stop() }
}
