import Logging
import SluiceConfig
import SluiceTestSupport

@testable import SluiceGateway

/// A gateway with a TLS listener (certificates for `a.test` and `*.b.test`, made with openssl), an h2c listener
/// and a plain listener that redirects to https, in front of one demo backend; curl as the client.
struct EdgeFixture {
    let directory: String
    let a: TestCertificate
    let b: TestCertificate
    let gateway: Gateway
    let backendPort: Int
    let tlsPort: Int
    let h2cPort: Int
    let redirectPort: Int

    static let curl = "/usr/bin/curl"

    static func start(routeExtra: String = "hsts = max-age=600\ngzip = on\n") async throws -> EdgeFixture {
        let directory = try makeTemporaryDirectory("sluice-edge")
        let a = try await TestCertificate.make(in: directory, file: "a", names: ["a.test"])
        let b = try await TestCertificate.make(in: directory, file: "b", names: ["b.test", "*.b.test"])
        let backends = try await startBackends(["edge"])
        let backendPort = backends[0].server.port!
        var logger = Logger(label: "test.edge")
        logger.logLevel = .error
        let gateway = try Gateway(
            config: try ConfigLoader.parse(config(directory: directory, backend: backendPort, routeExtra: routeExtra)),
            logger: logger)
        try await gateway.start()
        return EdgeFixture(
            directory: directory, a: a, b: b, gateway: gateway, backendPort: backendPort,
            tlsPort: gateway.port(tls: true)!, h2cPort: gateway.port(h2c: true)!,
            redirectPort: gateway.port(redirect: true)!)
    }

    static func config(directory: String, backend: Int, routeExtra: String, listen: String? = nil) -> String {
        """
        [server]
        \(listen ?? "listen = 127.0.0.1:0 tls\nlisten = 127.0.0.1:0 h2c\nlisten = 127.0.0.1:0 redirect_https")
        access_log = off

        [tls]
        certificate = \(directory)/a.pem key=\(directory)/a.key
        certificate = \(directory)/b.pem key=\(directory)/b.key

        [upstream demo]
        server = 127.0.0.1:\(backend)

        [route all]
        match = /*
        upstream = demo
        \(routeExtra)
        """
    }

    /// The same configuration with the listeners on the ports they got (what a reload must name).
    func reloadConfig(routeExtra: String = "hsts = max-age=600\ngzip = on\n") -> String {
        Self.config(
            directory: directory, backend: backendPort, routeExtra: routeExtra,
            listen: "listen = 127.0.0.1:\(tlsPort) tls\nlisten = 127.0.0.1:\(h2cPort) h2c\n"
                + "listen = 127.0.0.1:\(redirectPort) redirect_https")
    }

    /// curl over TLS to `host` (resolved to 127.0.0.1), trusting `ca`; `-v` output in stderr.
    func https(
        _ host: String, _ path: String, ca: TestCertificate, http: String = "--http2", extra: [String] = []
    ) async throws -> Command.Output {
        try await Command.run(
            Self.curl,
            [
                "-sS", "-v", http, "--cacert", ca.certificatePath, "--resolve", "\(host):\(tlsPort):127.0.0.1",
                "https://\(host):\(tlsPort)\(path)",
            ] + extra)
    }

    func stop() async {
        await gateway.shutdown()
    }
}
