#if canImport(Glibc)
    public import Glibc
#elseif canImport(Darwin)
    public import Darwin
#endif

public struct TestFailure: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A child process started with `posix_spawn`, its output sent to /dev/null, stopped by its PID.
public final class Subprocess: @unchecked Sendable {
    public let pid: pid_t
    private var reaped = false

    public init(path: String, arguments: [String]) throws {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        // The spawning thread (a test or dispatch thread) may block or ignore signals, and a child inherits both:
        // give the child an empty mask and default handlers, so that SIGTERM works on it.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var noSignals = sigset_t()
        sigemptyset(&noSignals)
        posix_spawnattr_setsigmask(&attributes, &noSignals)
        var allSignals = sigset_t()
        sigfillset(&allSignals)
        posix_spawnattr_setsigdefault(&attributes, &allSignals)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        // The child needs no environment.
        let envp: [UnsafeMutablePointer<CChar>?] = [nil]
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, envp)
        guard result == 0 else { throw TestFailure("posix_spawn \(path) failed: \(result)") }
        self.pid = pid
    }

    /// Whether the process has exited (reaping it if so).
    public var hasExited: Bool {
        if reaped { return true }
        var status: Int32 = 0
        if waitpid(pid, &status, WNOHANG) == pid { reaped = true }
        return reaped
    }

    /// Sends `signal` and waits for the process to go.
    public func kill(_ signal: Int32 = SIGKILL) {
        guard !reaped else { return }
        _ = Glibc.kill(pid, signal)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        reaped = true
    }

    deinit { kill() }
}

/// A `redis-server` of a test's own, on a free loopback port, with no persistence.
public final class RedisServer: @unchecked Sendable {
    static let path = "/usr/bin/redis-server"

    public let port: Int
    private var process: Subprocess?

    /// Starts a server on a free port (retrying with another port if one was taken meanwhile).
    public init() async throws {
        var lastError: any Error = TestFailure("no attempt")
        for _ in 0..<5 {
            let port = try Self.freePort()
            do {
                self.process = try await Self.start(port: port)
                self.port = port
                return
            } catch {
                lastError = error
            }
        }
        throw lastError
    }

    public var pid: pid_t? { process?.pid }

    /// Kills the server at once (SIGKILL): clients see the connection drop.
    public func kill() {
        process?.kill()
        process = nil
    }

    /// Starts the server again on the same port.
    public func restart() async throws {
        kill()
        process = try await Self.start(port: port)
    }

    deinit { process?.kill() }

    private static func start(port: Int) async throws -> Subprocess {
        let process = try Subprocess(
            path: path,
            arguments: ["--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        )
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(10)
        while clock.now < deadline {
            if process.hasExited { throw TestFailure("redis-server on port \(port) exited at start") }
            if ping(port: port) { return process }
            try await Task.sleep(for: .milliseconds(20))
        }
        process.kill()
        throw TestFailure("redis-server on port \(port) did not answer PING")
    }

    /// A port nobody listens on now: bind to port 0, read what the kernel chose, close.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard bound == 0 else { throw TestFailure("bind failed: errno \(errno)") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw TestFailure("getsockname failed: errno \(errno)") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// One blocking `PING` with a short timeout: whether `+PONG` came back.
    public static func ping(port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 0, tv_usec: 200_000)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = loopback(port: port)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return false }
        let request = Array("PING\r\n".utf8)
        guard send(fd, request, request.count, Int32(MSG_NOSIGNAL)) == request.count else { return false }
        var reply = [UInt8](repeating: 0, count: 64)
        let count = recv(fd, &reply, reply.count, 0)
        return count >= 7 && Array(reply[0..<7]) == Array("+PONG\r\n".utf8)
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return address
    }
}
