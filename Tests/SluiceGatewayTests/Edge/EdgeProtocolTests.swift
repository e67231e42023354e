import Foundation
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceGateway

/// TLS termination, SNI, certificate reload, HTTP/2 (ALPN and h2c), redirect to https, HSTS and gzip, end to end
/// with curl and openssl as clients.
@Suite(.serialized) struct EdgeProtocolTests {
    @Test func tlsChoosesTheCertificateBySNIAndSpeaksHTTP2ByALPN() async throws {
        let edge = try await EdgeFixture.start()
        defer { Task { await edge.stop() } }

        let a = try await edge.https("a.test", "/api/v1/users/7", ca: edge.a)
        #expect(a.status == 0, "\(a.stderr)")
        #expect(a.stderr.contains("subject: CN=a.test"))
        #expect(a.stderr.contains("ALPN: server accepted h2"))
        #expect(a.stderr.contains("< HTTP/2 200"))
        #expect(a.stdout.contains(#""id":"7""#))
        #expect(a.stderr.contains("< strict-transport-security: max-age=600"))

        // A wildcard name picks the second certificate; an unknown name gets the default (first).
        let b = try await edge.https("x.b.test", "/ping", ca: edge.b)
        #expect(b.status == 0, "\(b.stderr)")
        #expect(b.stderr.contains("subject: CN=b.test"))
        let unknown = try await edge.https("other.test", "/ping", ca: edge.a, extra: ["-k"])
        #expect(unknown.stderr.contains("subject: CN=a.test"))

        // HTTP/1.1 over TLS when the client offers only that.
        let http1 = try await edge.https("a.test", "/ping", ca: edge.a, http: "--http1.1")
        #expect(http1.stderr.contains("ALPN: server accepted http/1.1"))
        #expect(http1.stderr.contains("< HTTP/1.1 200"))
        #expect(edge.gateway.protocolCounters.first { $0.0 == "tls_handshakes" }!.1 >= 4)
    }

    @Test func h2cWithPriorKnowledgeAndHTTP1OnTheSameListener() async throws {
        let edge = try await EdgeFixture.start()
        defer { Task { await edge.stop() } }
        let h2 = try await Command.run(
            EdgeFixture.curl, ["-sS", "-v", "--http2-prior-knowledge", "http://127.0.0.1:\(edge.h2cPort)/ping"])
        #expect(h2.stderr.contains("< HTTP/2 200"), "\(h2.stderr)")
        #expect(h2.stdout.contains("pong"))
        let http1 = try await Command.run(EdgeFixture.curl, ["-sS", "-v", "http://127.0.0.1:\(edge.h2cPort)/ping"])
        #expect(http1.stderr.contains("< HTTP/1.1 200"))
        // Streams of one connection run the route, gates and pool like HTTP/1.1 requests: a POST body round trip.
        let body = String(repeating: "0123456789abcdef", count: 20_000)
        let file = "\(edge.directory)/body.txt"
        try body.write(toFile: file, atomically: true, encoding: .utf8)
        let echo = try await Command.run(
            EdgeFixture.curl,
            [
                "-sS", "--http2-prior-knowledge", "-H", "content-type: application/octet-stream", "--data-binary",
                "@\(file)", "http://127.0.0.1:\(edge.h2cPort)/echo",
            ])
        #expect(echo.stdout == body)
    }

    @Test func plainListenerRedirectsToHTTPS() async throws {
        let edge = try await EdgeFixture.start()
        defer { Task { await edge.stop() } }
        let answer = try await Command.run(
            EdgeFixture.curl,
            ["-sS", "-i", "-H", "Host: www.example.com:80", "http://127.0.0.1:\(edge.redirectPort)/a/b?c=1"])
        #expect(answer.stdout.hasPrefix("HTTP/1.1 308"))
        #expect(answer.stdout.contains("location: https://www.example.com:\(edge.tlsPort)/a/b?c=1"))
        #expect(HTTPSRedirectHandler.location(host: "[::1]:8080", target: "/x", port: 443) == "https://[::1]/x")
        #expect(HTTPSRedirectHandler.location(host: "evil/x", target: "/", port: 443) == nil)
        #expect(HTTPSRedirectHandler.location(host: nil, target: "/", port: 443) == nil)
    }

    @Test func reloadGivesNewHandshakesTheNewCertificateAndRefusesABadKey() async throws {
        let edge = try await EdgeFixture.start()
        defer { Task { await edge.stop() } }
        let before = try await edge.a.serial()
        #expect(try await servedSerial(edge) == before)

        // New files under the same names, then a reload: new handshakes get the new certificate at once.
        let renewed = try await TestCertificate.make(in: edge.directory, file: "a", names: ["a.test"])
        let after = try await renewed.serial()
        #expect(after != before)
        try await edge.gateway.apply(try ConfigLoader.parse(edge.reloadConfig()))
        #expect(try await servedSerial(edge) == after)

        // A key that does not belong to the certificate: the reload fails naming the files, the old one serves on.
        try FileManager.default.removeItem(atPath: "\(edge.directory)/a.key")
        try FileManager.default.copyItem(atPath: "\(edge.directory)/b.key", toPath: "\(edge.directory)/a.key")
        do {
            try await edge.gateway.apply(try ConfigLoader.parse(edge.reloadConfig()))
            Issue.record("a mismatched key was accepted")
        } catch let errors as ConfigErrors {
            #expect(errors.description.contains("does not match the certificate \(edge.directory)/a.pem"))
            #expect(errors.description.contains("[tls] certificate"))
        }
        #expect(try await servedSerial(edge) == after)
        let still = try await edge.https("a.test", "/ping", ca: renewed)
        #expect(still.stderr.contains("< HTTP/2 200"))
    }

    @Test func handshakesDuringReloadsAllSucceed() async throws {
        let edge = try await EdgeFixture.start()
        defer { Task { await edge.stop() } }
        let dir = edge.directory
        let one = try await TestCertificate.make(in: dir, file: "one", names: ["a.test"])
        let two = try await TestCertificate.make(in: dir, file: "two", names: ["a.test"])
        let bundle = "\(dir)/bundle.pem"
        try (try String(contentsOfFile: one.certificatePath, encoding: .utf8)
            + String(contentsOfFile: two.certificatePath, encoding: .utf8)).write(
                toFile: bundle, atomically: true, encoding: .utf8)
        // Each curl is a new connection, so a new handshake; reloads swap the certificate under them. The first
        // reload happens before the clients start: the fixture's own certificate is not in the clients' bundle.
        try await edge.gateway.apply(try ConfigLoader.parse(edge.reloadConfig().replacingOccurrences(
            of: "\(dir)/a.pem key=\(dir)/a.key", with: "\(dir)/one.pem key=\(dir)/one.key")))
        let port = edge.tlsPort
        let clients = Task {
            var failures: [String] = []
            for _ in 0..<80 {
                let result = try await Command.run(
                    EdgeFixture.curl,
                    ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", bundle, "--resolve",
                     "a.test:\(port):127.0.0.1", "https://a.test:\(port)/ping"])
                if result.status != 0 || result.stdout != "200" { failures.append("\(result.stdout) \(result.stderr)") }
            }
            return failures
        }
        var reloads = 0
        while !clients.isCancelled && reloads < 12 {
            let file = reloads % 2 == 0 ? "one" : "two"
            let text = edge.reloadConfig().replacingOccurrences(of: "\(dir)/a.pem key=\(dir)/a.key", with: "\(dir)/\(file).pem key=\(dir)/\(file).key")
            try await edge.gateway.apply(try ConfigLoader.parse(text))
            reloads += 1
            try await Task.sleep(for: .milliseconds(50))
        }
        let failures = try await clients.value
        #expect(reloads == 12)
        #expect(failures.isEmpty, "\(failures)")
    }

    @Test func gzipRoundTripsALargeBodyAndLeavesOthersAlone() async throws {
        let edge = try await EdgeFixture.start()
        defer { Task { await edge.stop() } }
        var text = ""
        for line in 0..<60_000 { text += "line \(line): the quick brown fox jumps over the lazy dog\n" }
        let file = "\(edge.directory)/big.txt"
        try text.write(toFile: file, atomically: true, encoding: .utf8)
        let out = "\(edge.directory)/big.out"
        let sent = try await edge.https(
            "a.test", "/echo", ca: edge.a,
            extra: ["--compressed", "-H", "content-type: text/plain", "--data-binary", "@\(file)", "-o", out,
                    "-w", "%{size_download}"])
        #expect(sent.stderr.contains("< content-encoding: gzip"), "\(sent.stderr)")
        #expect(sent.stderr.contains("< vary: Accept-Encoding"))
        #expect(!sent.stderr.contains("x-sluice-compress"))
        let received = try String(contentsOfFile: out, encoding: .utf8)
        #expect(received == text)
        let wireBytes = Int(sent.stdout) ?? .max
        #expect(wireBytes < text.utf8.count / 4)
        // Counted for /metrics: everything that went into gzip, and the (smaller) compressed bytes that came out.
        let gzipIn = edge.gateway.stats.gzipIn.load(ordering: .relaxed)
        let gzipOut = edge.gateway.stats.gzipOut.load(ordering: .relaxed)
        #expect(gzipIn == text.utf8.count, "bytes into gzip")
        #expect(gzipOut > 0 && gzipOut < gzipIn / 4, "bytes out of gzip")

        // A 50 MB streamed answer compresses on the fly and decompresses to the same count of bytes.
        let stream = try await Command.run(
            EdgeFixture.curl,
            ["-sS", "--compressed", "-o", "/dev/null", "-w", "%{size_download} %{http_code}",
             "http://127.0.0.1:\(edge.h2cPort)/bytes/50m?text=1"])
        let parts = stream.stdout.split(separator: " ")
        #expect(parts.last == "200")
        #expect((Int(parts.first ?? "") ?? .max) < 1_000_000)

        // Not for binary types, short bodies or clients that do not ask.
        let binary = try await Command.run(
            EdgeFixture.curl,
            ["-sS", "-D", "-", "-o", "/dev/null", "-H", "accept-encoding: gzip",
             "http://127.0.0.1:\(edge.h2cPort)/bytes/100k"])
        #expect(!binary.stdout.lowercased().contains("content-encoding"))
        let plain = try await Command.run(
            EdgeFixture.curl,
            ["-sS", "-D", "-", "-o", "/dev/null", "http://127.0.0.1:\(edge.h2cPort)/bytes/100k?text=1"])
        #expect(!plain.stdout.lowercased().contains("content-encoding"))
        #expect(plain.stdout.lowercased().contains("content-length: 102400"))
    }

    /// The serial of the certificate the TLS listener presents for `a.test`.
    private func servedSerial(_ edge: EdgeFixture) async throws -> String {
        let result = try await Command.run(
            "/bin/sh",
            ["-c", "openssl s_client -connect 127.0.0.1:\(edge.tlsPort) -servername a.test </dev/null 2>/dev/null "
                + "| openssl x509 -noout -serial"])
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
