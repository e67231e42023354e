public import NIOCore
public import NIOSSL

/// How an `HTTPServer` listens and what it tolerates from clients.
public struct ServerConfiguration: Sendable {
    /// Address to bind; `127.0.0.1`, `0.0.0.0`, `::1`, `::`.
    public var host: String
    /// Port to bind; 0 asks the kernel for a free one (read it back from `HTTPServer.localAddress`).
    public var port: Int
    /// Largest request line plus headers, in bytes. A larger head is answered 431 (RFC 6585 §5) and the connection
    /// closed.
    public var maxHeadSize: Int
    /// Largest request body, in bytes. A declared `Content-Length` above it is answered 413 (RFC 9110 §15.5.14)
    /// before the body is read; a chunked body that grows past it is cut off the same way.
    public var maxBodySize: Int
    /// How long a new connection may take to send its first request head, and the longest pause allowed while a
    /// request body is being received (nginx's `client_header_timeout` and `client_body_timeout`). Slow-loris
    /// clients are closed after it; one that stalls mid-body gets 408.
    public var requestReadTimeout: TimeAmount
    /// How long a keep-alive connection may sit between requests (nginx's `keepalive_timeout`).
    public var idleTimeout: TimeAmount
    /// Listen backlog.
    public var backlog: Int32
    /// `SO_REUSEPORT`, so a new process can bind beside an old one during an upgrade.
    public var reusePort: Bool
    /// The value of the `Server` header on answers the server writes itself (4xx on bad input); nil for none.
    public var serverName: String?
    /// Check response header names and values before they are written (NIO's validator). Applications that set
    /// headers from their own code want it; a proxy that relays headers NIO's parser already checked can skip it.
    public var validateOutboundHeaders = true
    /// Most header fields in a request head; more is answered 431.
    public var maxHeaders = 100
    /// Longest pause between two reads of a request body (nginx's `client_body_timeout`); nil: `requestReadTimeout`.
    public var bodyReadTimeout: TimeAmount?
    /// Longest time to receive a whole request, head and body; then 408. Nil: no limit.
    public var requestTimeout: TimeAmount?
    /// Most open client connections; past it new connections are closed at once and counted. 0: no limit.
    public var maxConnections = 0
    /// Keep answering a client that shut down its sending side after a complete request (`shutdown(SHUT_WR)`).
    public var allowHalfClosure = true
    /// After an answer that closes the connection while the request is still arriving: how long to read and drop
    /// the rest before closing (nginx's `lingering_timeout`).
    public var lingerTimeout: TimeAmount = .seconds(2)
    /// What the listener speaks.
    public var transport = Transport.plain
    /// HTTP/2 settings, for `.tls` (ALPN `h2`) and `.h2c`.
    public var http2 = HTTP2Settings()

    public enum Transport: Sendable {
        /// HTTP/1.1.
        case plain
        /// TLS with the context the closure returns when a connection is accepted (so that a reload that loads
        /// new certificates applies to new handshakes at once), then HTTP/2 or HTTP/1.1 by ALPN.
        case tls(@Sendable () -> NIOSSLContext)
        /// HTTP/2 with prior knowledge, or HTTP/1.1 from a client that starts with an HTTP/1.1 request.
        case h2c
    }

    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        maxHeadSize: Int = 16 * 1024,
        maxBodySize: Int = 8 * 1024 * 1024,
        requestReadTimeout: TimeAmount = .seconds(10),
        idleTimeout: TimeAmount = .seconds(60),
        backlog: Int32 = 1024,
        reusePort: Bool = false,
        serverName: String? = "sluice"
    ) {
        self.host = host
        self.port = port
        self.maxHeadSize = maxHeadSize
        self.maxBodySize = maxBodySize
        self.requestReadTimeout = requestReadTimeout
        self.idleTimeout = idleTimeout
        self.backlog = backlog
        self.reusePort = reusePort
        self.serverName = serverName
    }
}
