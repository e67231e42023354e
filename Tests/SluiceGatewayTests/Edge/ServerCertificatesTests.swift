import Foundation
import SluiceConfig
import SluiceTestSupport
import Testing

@testable import SluiceTLS

/// Loading and checking `[tls]` certificates, and the SNI choice, without sockets.
@Suite struct ServerCertificatesTests {
    @Test func sniPrefersAnExactNameThenAWildcardThenTheDefault() {
        let matcher = SNIMatcher(names: [["a.test"], ["*.b.test", "b.test"], ["x.b.test."]])
        #expect(matcher.certificate(for: "a.test") == 0)
        #expect(matcher.certificate(for: "B.TEST") == 1)
        #expect(matcher.certificate(for: "y.b.test") == 1)
        #expect(matcher.certificate(for: "x.b.test") == 2, "an exact name beats a wildcard")
        #expect(matcher.certificate(for: "deep.y.b.test") == 0, "a wildcard covers one label")
        #expect(matcher.certificate(for: nil) == 0)
        #expect(matcher.certificate(for: "") == 0)
        #expect(matcher.certificate(for: "unknown.test") == 0)
    }

    private func config(_ directory: String, _ files: [(String, String)]) throws -> TLSConfig {
        var certificates: [TLSCertificateConfig] = []
        for (index, (chain, key)) in files.enumerated() {
            certificates.append(
                TLSCertificateConfig(
                    chainPath: "\(directory)/\(chain)", keyPath: "\(directory)/\(key)",
                    chainPEM: try String(contentsOfFile: "\(directory)/\(chain)", encoding: .utf8),
                    keyPEM: try String(contentsOfFile: "\(directory)/\(key)", encoding: .utf8),
                    location: SourceLocation(file: "sluice.ini", line: 10 + index)))
        }
        return TLSConfig(certificates: certificates)
    }

    @Test func badFilesAreNamedAtTheirLine() async throws {
        let directory = try makeTemporaryDirectory("sluice-certs")
        _ = try await TestCertificate.make(in: directory, file: "a", names: ["a.test"], days: 30)
        _ = try await TestCertificate.make(in: directory, file: "b", names: ["b.test", "*.b.test"], days: 30)
        let good = try ServerCertificates(try config(directory, [("a.pem", "a.key"), ("b.pem", "b.key")]))
        #expect(good.matcher.names == [["a.test"], ["b.test", "*.b.test"]])

        #expect {
            try ServerCertificates(try config(directory, [("a.pem", "a.key"), ("b.pem", "a.key")]))
        } throws: { error in
            "\(error)".contains("sluice.ini:11: [tls] certificate: the private key \(directory)/a.key does not match")
        }
        // Thirty days on, both have expired.
        #expect {
            try ServerCertificates(
                try config(directory, [("a.pem", "a.key")]), now: Date().addingTimeInterval(31 * 86_400))
        } throws: { error in
            "\(error)".contains("sluice.ini:10: [tls] certificate: the certificate \(directory)/a.pem expired on")
        }
        #expect {
            try ServerCertificates(try config(directory, [("a.key", "a.key")]))
        } throws: { error in
            "\(error)".contains("is not a PEM certificate chain")
        }
    }

    @Test func listenFlagsAndTLSKeysAreChecked() throws {
        #expect(throws: ConfigErrors.self) { try ConfigLoader.parse("[server]\nlisten = :8443 tls\n") }
        #expect(throws: ConfigErrors.self) { try ConfigLoader.parse("[server]\nlisten = :8443 tls h2c\n") }
        #expect(throws: ConfigErrors.self) { try ConfigLoader.parse("[server]\nlisten = :8443 fast\n") }
        do {
            _ = try ConfigLoader.parse("[server]\nlisten = :8443 tls\n[tls]\ncertificate = /nonexistent.pem key=/x.key\n")
            Issue.record("a missing certificate file was accepted")
        } catch {
            #expect(error.description.contains(
                "<memory>:4: [tls] certificate: cannot read the certificate chain /nonexistent.pem"))
        }
        let h2c = try ConfigLoader.parse("[server]\nlisten = 127.0.0.1:8080 h2c\nredirect_https = on\nh2_max_concurrent_streams = 10\n")
        #expect(h2c.server.listen[0].h2c && h2c.server.redirectHTTPS && h2c.server.http2.maxConcurrentStreams == 10)
        #expect(throws: ConfigErrors.self) {
            try ConfigLoader.parse("[server]\nlisten = :80\n[upstream u]\nserver = a:1\n[route r]\nmatch = /*\nupstream = u\nhsts = 1y\n")
        }
    }
}
