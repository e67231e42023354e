import NIOCore
import SluiceTestSupport
import Testing

@testable import SluiceGateway

#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of this process, in MiB, from /proc.
func residentMiB(_ field: String = "VmRSS") -> Int {
    guard let file = fopen("/proc/self/status", "r") else { return 0 }
    defer { fclose(file) }
    var line = [CChar](repeating: 0, count: 256)
    while fgets(&line, Int32(line.count), file) != nil {
        let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        if text.hasPrefix(field + ":") {
            return (Int(text.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "0") ?? 0) / 1024
        }
    }
    return 0
}

/// Large bodies stream through the gateway in bounded memory, both ways.
@Suite(.serialized) struct StreamingTests {
    static let size = 1 << 30

    @Test func largeDownloadStreams() async throws {
        let backends = try await startBackends(["s1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! }, idleTimeout: .seconds(60))
        let before = residentMiB()
        let socket = try TestSocket(port: gateway.port, timeout: 60)
        try await socket.send("GET /bytes/\(Self.size) HTTP/1.1\r\nHost: x\r\n\r\n")
        let received = try await socket.readHeadAndCountBody()
        let grown = residentMiB() - before
        print("1 GiB download through the gateway: resident memory grew \(grown) MiB (peak \(residentMiB("VmHWM")) MiB)")
        #expect(received.status == 200)
        #expect(received.bodyBytes == Self.size)
        #expect(grown < 128, "memory grew by \(grown) MiB while 1 GiB passed through")
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func largeUploadStreams() async throws {
        let backends = try await startBackends(["s1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! }, idleTimeout: .seconds(60))
        let before = residentMiB()
        let socket = try TestSocket(port: gateway.port, timeout: 60)
        try await socket.send("POST /sink HTTP/1.1\r\nHost: x\r\nContent-Length: \(Self.size)\r\n\r\n")
        let chunk = [UInt8](repeating: 0x61, count: 1 << 20)
        for _ in 0..<(Self.size >> 20) { try await socket.send(chunk) }
        let response = try await socket.readResponse()
        let grown = residentMiB() - before
        print("1 GiB upload through the gateway: resident memory grew \(grown) MiB (peak \(residentMiB("VmHWM")) MiB)")
        #expect(response.status == 200)
        #expect(response.text == #"{"bytes":\#(Self.size)}"#)
        #expect(grown < 128, "memory grew by \(grown) MiB while 1 GiB passed through")
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }

    @Test func upstreamGoingSilentMidBodyIsCutOffAfterTheIdleTimeout() async throws {
        let backends = try await startBackends(["s1"])
        let gateway = try await TestGateway(backends: backends.map { $0.server.port! }, idleTimeout: .milliseconds(300))
        let socket = try TestSocket(port: gateway.port, timeout: 30)
        try await socket.send("GET /bytes/1m?stall=1 HTTP/1.1\r\nHost: x\r\n\r\n")
        // The head and half the body arrive; then the upstream says nothing, and the gateway closes the connection
        // (the answer has started, so a 504 can no longer be sent).
        let received = try await socket.readHeadAndCountBody()
        #expect(received.status == 200)
        #expect(received.bodyBytes == 512 * 1024, "half of the body, then the cut")
        #expect(try await socket.waitForClose())
        #expect(gateway.stats.aborted.load(ordering: .relaxed) == 1)
        await gateway.stop()
        for (_, server) in backends { await server.shutdown() }
    }
}
