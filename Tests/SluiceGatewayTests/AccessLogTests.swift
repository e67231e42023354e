import NIOCore
import NIOPosix
import Testing

@testable import SluiceGateway

#if canImport(Glibc)
import Glibc
#endif

/// The access log: nginx's combined format plus time, route and upstream; written off the loop; unforgeable.
@Suite struct AccessLogTests {
    /// Records `count` lines through an `AccessLog` writing into a file, waits until they are written, and returns
    /// them.
    func written(count: Int, uri: String = "/ping", userAgent: String? = "curl/7.88.1") async throws -> [String] {
        let path = "/tmp/sluice-access-log-test-\(getpid())-\(UInt64.random(in: 0...UInt64.max)).log"
        let descriptor = open(path, O_CREAT | O_TRUNC | O_RDWR, 0o600)
        #expect(descriptor >= 0)
        defer {
            close(descriptor)
            unlink(path)
        }
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let log = AccessLog(group: group, descriptor: descriptor)
        let loop = group.next()
        try await loop.submit {
            for index in 0..<count {
                var entry = AccessLogEntry(
                    client: "127.0.0.1", method: "GET", uri: uri, version: .http1_1, status: 200, referer: nil,
                    userAgent: userAgent, seconds: 0.0123)
                entry.bytesOut = index
                entry.route = "all"
                entry.upstream = "10.0.0.1:80"
                log.record(on: loop, entry)
            }
        }.get()
        await log.shutdown()
        try await group.shutdownGracefully()
        var output: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        var offset: off_t = 0
        while true {
            let got = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, offset) }
            if got <= 0 { break }
            output += chunk[..<got]
            offset += off_t(got)
        }
        return String(decoding: output, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func aLineIsNginxCombinedPlusTimeRouteAndUpstream() async throws {
        let lines = try await written(count: 1)
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.hasPrefix("127.0.0.1 - - ["))
        #expect(line.hasSuffix(
            "] \"GET /ping HTTP/1.1\" 200 0 \"-\" \"curl/7.88.1\" 0.012 route=all upstream=10.0.0.1:80 zone=- "
                + "upstream_time=- bytes_in=0 request_id=- trace_id=- gates=- retries=0"))
        #expect(line.contains(/\[\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000\]/))
    }

    @Test func everyLineIsWrittenInOrderAcrossManyFlushes() async throws {
        let lines = try await written(count: 5000)  // about 500 KiB: many 32 KiB hand-offs
        #expect(lines.count == 5000)
        #expect(lines.enumerated().allSatisfy { index, line in line.contains("\" 200 \(index) \"") })
    }

    @Test func clientTextCannotBreakOrForgeALine() async throws {
        let lines = try await written(count: 1, uri: "/a\"b\\c", userAgent: "x\"\n127.0.0.9 - - [forged] \"GET / HTTP/1.1\" 200")
        #expect(lines.count == 1)
        let line = try #require(lines.first)
        #expect(line.contains(#""GET /a\x22b\x5Cc HTTP/1.1""#))
        #expect(line.contains(#""x\x22\x0A127.0.0.9 - - [forged] \x22GET / HTTP/1.1\x22 200""#))
    }

    @Test func requestTimeHasMillisecondResolution() {
        func text(_ seconds: Double) -> String {
            var line: [UInt8] = []
            AccessLog.appendSeconds(seconds, to: &line)
            return String(decoding: line, as: UTF8.self)
        }
        #expect(text(0) == "0.000")
        #expect(text(0.0004) == "0.000")
        #expect(text(0.0125) == "0.013")
        #expect(text(1.5) == "1.500")
        #expect(text(62.05) == "62.050")
    }
}
