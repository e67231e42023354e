import Atomics

/// Counters of the edge protocols of one listener: TLS handshakes, HTTP/2 connections and streams, and the HTTP/2
/// abuse patterns NIO's HTTP/2 handler cut off (each closes the offending connection with GOAWAY; other clients are
/// not affected). Read by the gateway's `/metrics` and `/status`.
public final class ProtocolStats: Sendable {
    /// The HTTP/2 abuse patterns that are limited, by the error NIO reports when a connection passes the limit.
    public enum Abuse: String, CaseIterable, Sendable {
        /// Streams opened and reset faster than the limit (CVE-2023-44487, "rapid reset").
        case rapidReset = "rapid_reset"
        /// More CONTINUATION frames in a row than the limit (CVE-2024-27316 class).
        case continuationFlood = "continuation_flood"
        /// PING, SETTINGS or other control frames faster than the limit.
        case controlFrameFlood = "control_frame_flood"
        /// Empty DATA frames in a row.
        case emptyDataFlood = "empty_data_flood"
        /// Control frames the client never reads (PING or SETTINGS acks piling up unsent: a zero-window stall).
        case outboundBuffering = "outbound_buffering"
        /// Too many protocol errors on one connection (NIO's "glitches", stream errors).
        case glitches
        /// A header block larger than the limit.
        case largeHeaders = "large_headers"
    }

    let tlsHandshakeCount = ManagedAtomic(0)
    let tlsFailureCount = ManagedAtomic(0)
    let http2ConnectionCount = ManagedAtomic(0)
    let http2StreamCount = ManagedAtomic(0)
    let http2StreamsOpenCount = ManagedAtomic(0)

    /// Completed TLS handshakes.
    public var tlsHandshakes: Int { tlsHandshakeCount.load(ordering: .relaxed) }
    /// Connections that ended or failed before their handshake completed.
    public var tlsFailures: Int { tlsFailureCount.load(ordering: .relaxed) }
    public var http2Connections: Int { http2ConnectionCount.load(ordering: .relaxed) }
    public var http2Streams: Int { http2StreamCount.load(ordering: .relaxed) }
    /// HTTP/2 streams open now.
    public var http2StreamsOpen: Int { http2StreamsOpenCount.load(ordering: .relaxed) }
    private let abuse: [ManagedAtomic<Int>] = Abuse.allCases.map { _ in ManagedAtomic(0) }

    public init() {}

    public func count(_ kind: Abuse) {
        abuse[Abuse.allCases.firstIndex(of: kind)!].wrappingIncrement(ordering: .relaxed)
    }

    public func count(of kind: Abuse) -> Int {
        abuse[Abuse.allCases.firstIndex(of: kind)!].load(ordering: .relaxed)
    }
}
