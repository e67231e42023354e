/// `[tls]`: the certificates TLS listeners (`listen = 0.0.0.0:8443 tls`) present, and the protocol floor.
///
/// The files are read when the configuration is loaded (a missing or unreadable one is an error at its line), so a
/// reload that changes a certificate's content is a changed configuration. Parsing them, checking that each key
/// matches its certificate and that no certificate has expired is `SluiceTLS`'s work, at load and at `sluiced -t`.
public struct TLSConfig: Sendable, Equatable {
    /// `certificate = CHAIN.pem key=KEY.pem`, repeatable: the first is the default, the others are chosen by SNI
    /// against their names.
    public var certificates: [TLSCertificateConfig]
    /// `tls_min_version = 1.2 | 1.3` (default 1.2).
    public var minimumVersion: TLSVersionConfig
    /// The `[tls]` header.
    public var location: SourceLocation

    public init(
        certificates: [TLSCertificateConfig], minimumVersion: TLSVersionConfig = .v1_2,
        location: SourceLocation = SourceLocation(file: "<memory>", line: 0)
    ) {
        self.certificates = certificates
        self.minimumVersion = minimumVersion
        self.location = location
    }
}

/// One `certificate` line: a PEM chain (leaf first) and its private key, as read from disk.
public struct TLSCertificateConfig: Sendable, Equatable {
    /// The chain file, as the line resolves it (relative paths from the folder of the file the line is in).
    public var chainPath: String
    public var keyPath: String
    /// The files' content, read at load.
    public var chainPEM: String
    public var keyPEM: String
    /// The `certificate` line.
    public var location: SourceLocation

    public init(chainPath: String, keyPath: String, chainPEM: String, keyPEM: String, location: SourceLocation) {
        self.chainPath = chainPath
        self.keyPath = keyPath
        self.chainPEM = chainPEM
        self.keyPEM = keyPEM
        self.location = location
    }
}

public enum TLSVersionConfig: String, Sendable, CaseIterable {
    case v1_2 = "1.2"
    case v1_3 = "1.3"
}

/// `[server]` HTTP/2 settings, for TLS listeners (ALPN `h2`) and `h2c` listeners.
public struct HTTP2Config: Sendable, Equatable {
    /// `h2_max_concurrent_streams` (1...10,000, default 100): streams a client may have open at once.
    public var maxConcurrentStreams = 100
    /// `h2_initial_window_size` (1k...16m, default 64k): each stream's receive window, what a client may send
    /// before the gateway reads on.
    public var initialWindowSize = 65_535
    /// `h2_connection_window_size` (64k...64m, default 1m): the connection's receive window.
    public var connectionWindowSize = 1 << 20
    /// `h2_max_header_list_size` (1k...1m, default `max_header_size`): the largest decoded header list a client may
    /// send; larger ones are refused.
    public var maxHeaderListSize: Int?

    public init() {}
}

/// TLS to an upstream's servers: `tls = on` for all of them (or `tls` on a `server` line), `tls_verify`, `tls_ca`,
/// `tls_sni`.
public struct UpstreamTLSConfig: Sendable, Hashable {
    /// `tls_verify` (default on): the server's certificate must chain to a trusted root and name the server.
    public var verify = true
    /// `tls_ca = FILE`: the roots to trust instead of the system's store; its content is read at load.
    public var caPath: String?
    public var caPEM: String?
    /// `tls_sni = NAME`: the name sent in SNI and checked against the certificate; default the server's host when it
    /// is a name (an IP address is checked against the certificate's IP addresses).
    public var serverName: String?
    /// The `[upstream]` header.
    public var location = SourceLocation(file: "<memory>", line: 0)

    public init() {}
}

/// `protocol` of an `[upstream]`: what the gateway speaks to its servers.
public enum UpstreamProtocol: String, Sendable, CaseIterable {
    /// HTTP/1.1 over pooled keep-alive connections (the default).
    case http1
    /// HTTP/2: with `tls`, ALPN `h2`; without, prior knowledge. Requests are streams of one connection per event
    /// loop; gRPC needs it.
    case h2
}
