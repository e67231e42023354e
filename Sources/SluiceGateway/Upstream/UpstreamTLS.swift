import NIOCore
import NIOSSL
import SluiceConfig

/// The client TLS context of one upstream's servers (`tls = on` or a `server … tls` line), made at load: the
/// system's trust store or `tls_ca`, verification on unless `tls_verify = off`, ALPN `http/1.1`. Compared by its
/// settings, so that a reload that keeps them keeps the servers' pools and connections.
final class UpstreamTLS: Hashable, Sendable {
    let settings: UpstreamTLSConfig
    let alpn: [String]
    let context: NIOSSLContext

    /// Throws `ConfigErrors` at the `[upstream]` header when `tls_ca` holds no certificate.
    init(_ settings: UpstreamTLSConfig, upstream: String, alpn: [String] = ["http/1.1"]) throws {
        self.settings = settings
        self.alpn = alpn
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = settings.verify ? .fullVerification : .none
        tls.applicationProtocols = alpn
        tls.minimumTLSVersion = .tlsv12
        if let pem = settings.caPEM {
            do {
                let roots = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
                guard !roots.isEmpty else { throw NIOSSLError.failedToLoadCertificate }
                tls.trustRoots = .certificates(roots)
            } catch {
                throw ConfigErrors([
                    ConfigError(
                        location: settings.location, section: "[upstream \(upstream)]", key: "tls_ca",
                        message: "\(settings.caPath ?? "the CA file") holds no PEM certificate (\(error))")
                ])
            }
        }
        do {
            self.context = try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigErrors([
                ConfigError(
                    location: settings.location, section: "[upstream \(upstream)]", key: "tls",
                    message: "cannot make a TLS context: \(error)")
            ])
        }
    }

    /// The SNI name for a server at `host`: `tls_sni`, else the host when it is a name (never an IP address).
    func serverName(for host: String) -> String? {
        if let name = settings.serverName { return name }
        let isAddress = host.contains(":") || host.allSatisfy { $0.isNumber || $0 == "." }
        return isAddress ? nil : host
    }

    /// The TLS handler for a new connection to `host`.
    func handler(for host: String) throws -> NIOSSLClientHandler {
        try NIOSSLClientHandler(context: context, serverHostname: serverName(for: host))
    }

    static func == (lhs: UpstreamTLS, rhs: UpstreamTLS) -> Bool { lhs.settings == rhs.settings && lhs.alpn == rhs.alpn }
    func hash(into hasher: inout Hasher) {
        hasher.combine(settings)
        hasher.combine(alpn)
    }
}
