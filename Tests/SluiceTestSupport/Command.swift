import Foundation

/// A program run to completion by a test (curl, openssl, h2load, python3), with its output captured.
public enum Command {
    public struct Output: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
    }

    /// Runs `path` with `arguments`; throws if it cannot start. The output is captured in files (no pipe can fill up
    /// and stall the child); `timeout` kills it (by its PID) if it runs too long.
    public static func run(_ path: String, _ arguments: [String], timeout: Duration = .seconds(60)) async throws
        -> Output
    {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-cmd-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("out")
        let err = directory.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                process.terminationHandler = nil
                continuation.resume(throwing: error)
                return
            }
            let pid = process.processIdentifier
            Task {
                try? await Task.sleep(for: timeout)
                if process.isRunning && process.processIdentifier == pid { process.terminate() }
            }
        }
        return Output(
            status: status, stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }

    /// Whether `path` exists and can be run.
    public static func available(_ path: String) -> Bool {
        FileManager.default.isExecutableFile(atPath: path)
    }
}

/// Self-signed certificates made at test time with Debian's `openssl`.
public struct TestCertificate: Sendable {
    public let certificatePath: String
    public let keyPath: String

    /// A new RSA key and a self-signed certificate for `names` (the first is the subject's CN) in `directory`, as
    /// `NAME.pem` and `NAME.key`, valid for `days`.
    public static func make(in directory: String, file: String, names: [String], days: Int = 30) async throws
        -> TestCertificate
    {
        let certificate = "\(directory)/\(file).pem"
        let key = "\(directory)/\(file).key"
        let alternatives = names.map { "DNS:\($0)" }.joined(separator: ",")
        let result = try await Command.run(
            "/usr/bin/openssl",
            [
                "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", certificate, "-days",
                String(days), "-subj", "/CN=\(names[0])", "-addext", "subjectAltName=\(alternatives)",
            ])
        guard result.status == 0 else { throw TestFailure("openssl failed: \(result.stderr)") }
        return TestCertificate(certificatePath: certificate, keyPath: key)
    }

    /// The certificate's serial number, as `openssl x509 -serial` prints it.
    public func serial() async throws -> String {
        try await Command.run("/usr/bin/openssl", ["x509", "-noout", "-serial", "-in", certificatePath]).stdout
            .trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// A fresh folder under the temporary directory.
public func makeTemporaryDirectory(_ prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("\(prefix)-\(UUID())").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
