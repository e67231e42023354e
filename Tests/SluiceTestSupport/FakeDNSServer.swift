import Foundation

#if canImport(Glibc)
    import Glibc
#endif

/// `Tests/dns/fake_dns.py` on an ephemeral 127.0.0.1 port (UDP and TCP), answering from a JSON zone file that the
/// test rewrites with `update`; started by the test, stopped by its PID.
public final class FakeDNSServer: @unchecked Sendable {
    public let port: Int
    public let zoneFile: String
    private let process = Process()

    /// `directory` holds the zone file (a fresh temporary folder when nil).
    public init(zone: [String: Any], directory: String? = nil) async throws {
        let directory = try directory ?? makeTemporaryDirectory("sluice-dns")
        zoneFile = directory + "/zone.json"
        try JSONSerialization.data(withJSONObject: zone).write(to: URL(fileURLWithPath: zoneFile))
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("dns/fake_dns.py").path
        let output = directory + "/dns.out"
        _ = FileManager.default.createFile(atPath: output, contents: nil)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", script, "--zone", zoneFile, "--port", "0"]
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        process.standardError = FileHandle.nullDevice
        try process.run()
        var port: Int?
        for _ in 0..<400 where port == nil {
            let text = (try? String(contentsOfFile: output, encoding: .utf8)) ?? ""
            if let line = text.split(separator: "\n").first(where: { $0.hasPrefix("listening ") }) {
                port = Int(line.dropFirst("listening ".count).trimmingCharacters(in: .whitespaces))
            }
            if port == nil { try await Task.sleep(for: .milliseconds(25)) }
        }
        guard let port else {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            throw CocoaError(.fileReadUnknown)
        }
        self.port = port
    }

    /// Replaces the zone (the server reads the file again when its modification time changes).
    public func update(_ zone: [String: Any]) throws {
        let temporary = zoneFile + ".new"
        try JSONSerialization.data(withJSONObject: zone).write(to: URL(fileURLWithPath: temporary))
        // A later mtime even within the same second: the server compares mtimes.
        try FileManager.default.setAttributes(
            [.modificationDate: Date().addingTimeInterval(Double.random(in: 1...1000))], ofItemAtPath: temporary)
        _ = rename(temporary, zoneFile)
    }

    public func stop() {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }
}
