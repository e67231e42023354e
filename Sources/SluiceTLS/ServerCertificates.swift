public import Foundation
import NIOCore
public import NIOSSL
public import SluiceConfig
import X509

/// The certificates of `[tls]`, loaded and checked, and the server context TLS listeners hand out: the first
/// certificate by default, the others chosen by SNI (`SNIMatcher`). ALPN offers `h2` and `http/1.1`.
///
/// Built at start and at every reload; a listener asks for the current one per new connection, so new handshakes get
/// new certificates at once and open connections keep theirs.
public final class ServerCertificates: Sendable {
    public let context: NIOSSLContext
    public let matcher: SNIMatcher
    /// When the first certificate to expire does, for logs and `/status`.
    public let earliestExpiry: Date

    /// Loads and checks every certificate. Throws `ConfigErrors` naming each bad file at its `certificate` line:
    /// an unparsable chain or key, a key that does not match its certificate, a certificate that has expired (or is
    /// not valid yet).
    public init(_ config: TLSConfig, now: Date = Date()) throws {
        var errors: [ConfigError] = []
        var loaded: [(chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, names: [String], expiry: Date)] = []
        for certificate in config.certificates {
            do {
                loaded.append(try Self.load(certificate, now: now))
            } catch let error as ConfigError {
                errors.append(error)
            } catch {
                errors.append(Self.error(certificate, "\(error)"))
            }
        }
        guard errors.isEmpty, let first = loaded.first else {
            if errors.isEmpty {
                errors.append(
                    ConfigError(location: config.location, section: "[tls]", key: "certificate", message: "missing"))
            }
            throw ConfigErrors(errors)
        }
        let matcher = SNIMatcher(names: loaded.map(\.names))
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: first.chain.map { .certificate($0) }, privateKey: .privateKey(first.key))
        tls.minimumTLSVersion = config.minimumVersion == .v1_3 ? .tlsv13 : .tlsv12
        tls.applicationProtocols = ["h2", "http/1.1"]
        // BoringSSL's defaults without the CBC and RSA-key-exchange suites: ECDHE with AES-GCM or ChaCha20 (TLS 1.3
        // suites are fixed by BoringSSL and all modern).
        tls.cipherSuites = [
            "ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
            "ECDHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305", "ECDHE-RSA-CHACHA20-POLY1305",
        ].joined(separator: ":")
        if loaded.count > 1 {
            let overrides: [NIOSSLContextConfigurationOverride] = loaded.map { entry in
                var override = NIOSSLContextConfigurationOverride()
                override.certificateChain = entry.chain.map { .certificate($0) }
                override.privateKey = .privateKey(entry.key)
                return override
            }
            tls.sslContextCallback = { values, promise in
                let index = matcher.certificate(for: values.serverHostname)
                promise.succeed(index == 0 ? .noChanges : overrides[index])
            }
        }
        do {
            self.context = try NIOSSLContext(configuration: tls)
        } catch {
            throw ConfigErrors([Self.error(config.certificates[0], "cannot make a TLS context: \(error)")])
        }
        self.matcher = matcher
        self.earliestExpiry = loaded.map(\.expiry).min() ?? now
    }

    private static func load(_ certificate: TLSCertificateConfig, now: Date) throws
        -> (chain: [NIOSSLCertificate], key: NIOSSLPrivateKey, names: [String], expiry: Date)
    {
        let chain: [NIOSSLCertificate]
        do {
            chain = try NIOSSLCertificate.fromPEMBytes(Array(certificate.chainPEM.utf8))
        } catch {
            throw Self.error(certificate, "\(certificate.chainPath) is not a PEM certificate chain (\(error))")
        }
        guard let leaf = chain.first else {
            throw Self.error(certificate, "\(certificate.chainPath) holds no certificate")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(bytes: Array(certificate.keyPEM.utf8), format: .pem)
        } catch {
            throw Self.error(
                certificate, "\(certificate.keyPath) is not a PEM private key (or it is encrypted) (\(error))")
        }
        // A context with just this pair: BoringSSL refuses a key that does not belong to the leaf.
        do {
            _ = try NIOSSLContext(
                configuration: .makeServerConfiguration(
                    certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key)))
        } catch {
            throw Self.error(
                certificate, "the private key \(certificate.keyPath) does not match the certificate "
                    + "\(certificate.chainPath)")
        }
        let parsed: Certificate
        do {
            parsed = try Certificate(derEncoded: try leaf.toDERBytes())
        } catch {
            throw Self.error(certificate, "\(certificate.chainPath): cannot read the certificate (\(error))")
        }
        if parsed.notValidAfter < now {
            throw Self.error(
                certificate, "the certificate \(certificate.chainPath) expired on \(parsed.notValidAfter)")
        }
        if parsed.notValidBefore > now {
            throw Self.error(
                certificate, "the certificate \(certificate.chainPath) is not valid before \(parsed.notValidBefore)")
        }
        return (chain, key, names(of: parsed), parsed.notValidAfter)
    }

    /// The DNS names in the subject alternative names, or the subject's common name when there are none.
    static func names(of certificate: Certificate) -> [String] {
        var names: [String] = []
        if let alternatives = try? certificate.extensions.subjectAlternativeNames {
            for name in alternatives {
                if case .dnsName(let dns) = name { names.append(dns) }
            }
        }
        if names.isEmpty {
            for rdn in certificate.subject {
                for attribute in rdn where attribute.type == .RDNAttributeType.commonName {
                    names.append(String(describing: attribute.value))
                }
            }
        }
        return names
    }

    private static func error(_ certificate: TLSCertificateConfig, _ message: String) -> ConfigError {
        ConfigError(location: certificate.location, section: "[tls]", key: "certificate", message: message)
    }
}
