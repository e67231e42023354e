#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Speaks systemd's notify protocol (sd_notify(3)) over the datagram socket named by `$NOTIFY_SOCKET`, so that a
/// `Type=notify` unit knows when Sluice is ready, reloading, stopping, and alive (watchdog).
///
/// Written here rather than linked from libsystemd: the protocol is one `sendto` of `KEY=value` lines.
public struct SystemdNotifier: Sendable {
    /// The socket path; `@` at the start means the abstract namespace.
    public let socketPath: String?
    /// Half of `$WATCHDOG_USEC` (when set and meant for this process): how often to send `WATCHDOG=1`.
    public let watchdogInterval: Duration?

    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from the environment.
    public init() {
        let socket = getenv("NOTIFY_SOCKET").map { String(cString: $0) }
        self.socketPath = (socket?.isEmpty ?? true) ? nil : socket
        var interval: Duration?
        if let text = getenv("WATCHDOG_USEC").map({ String(cString: $0) }), let usec = Int64(text), usec > 0 {
            let pid = getenv("WATCHDOG_PID").map { String(cString: $0) }.flatMap { Int32($0) }
            if pid == nil || pid == getpid() { interval = .microseconds(usec / 2) }
        }
        self.watchdogInterval = interval
    }

    public init(socketPath: String?, watchdogInterval: Duration? = nil) {
        self.socketPath = socketPath
        self.watchdogInterval = watchdogInterval
    }

    /// Whether systemd (or a stand-in) listens.
    public var isEnabled: Bool { socketPath != nil }

    public func ready(status: String? = nil) { send(["READY=1"] + (status.map { ["STATUS=\($0)"] } ?? [])) }

    /// `RELOADING=1` with `MONOTONIC_USEC`, as `Type=notify-reload` expects (systemd 253+).
    public func reloading() { send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"]) }

    public func stopping() { send(["STOPPING=1"]) }

    public func watchdog() { send(["WATCHDOG=1"]) }

    public func status(_ text: String) { send(["STATUS=\(text)"]) }

    /// Sends the lines as one datagram; errors are ignored, as sd_notify does when nobody listens.
    @discardableResult
    public func send(_ lines: [String]) -> Bool {
        guard let socketPath else { return false }
        let message = lines.joined(separator: "\n")
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            raw.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sa_family_t>.size + path.count + (path.first == 0 ? 0 : 1))
        let sent = message.utf8CString.withUnsafeBufferPointer { text in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, text.baseAddress, text.count - 1, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent >= 0
    }

    static func monotonicMicroseconds() -> UInt64 {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return UInt64(now.tv_sec) * 1_000_000 + UInt64(now.tv_nsec) / 1_000
    }
}
