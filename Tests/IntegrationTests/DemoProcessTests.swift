import SluiceTestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

#if canImport(Foundation)
import Foundation
#endif

/// The `sluice-demo` executable, started as a real process the way the quick start and benchmarks run it.
@Suite(.serialized) struct DemoProcessTests {
    /// The built products sit beside the test bundle.
    static var binary: String {
        let executable = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: executable).deletingLastPathComponent().appendingPathComponent("sluice-demo").path
    }

    @Test func startsPrintsItsPortServesAndStopsOnSIGTERM() async throws {
        #expect(FileManager.default.isExecutableFile(atPath: Self.binary), "build the package first: \(Self.binary)")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--port", "0", "--zone", "az9", "--name", "proc1", "--quiet"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        // The first line says where it listens.
        let reader = output.fileHandleForReading
        let line = try await offload {
            var line = ""
            while !line.hasSuffix("\n") {
                let byte = reader.readData(ofLength: 1)
                guard !byte.isEmpty else { break }
                line += String(decoding: byte, as: UTF8.self)
            }
            return line
        }
        let port = try #require(line.split(separator: ":").last.flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) })
        #expect(line.contains("proc1") && line.contains("az9"))

        let user = try await TestHTTP.request(port: port, "GET", "/api/v1/users/7")
        #expect(user.status == 200)
        #expect(user.text.contains(#""zone":"az9""#))

        kill(process.processIdentifier, SIGTERM)
        try await offload { process.waitUntilExit() }
        #expect(process.terminationReason == .exit)
        #expect(process.terminationStatus == 0)
    }

    @Test func rejectsBadFlagsWithAClearError() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = ["--fail-rate", "2"]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus != 0)
        #expect(message.contains("--fail-rate"))
    }
}
