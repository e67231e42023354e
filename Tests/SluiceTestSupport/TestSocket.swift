import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs blocking socket work on a dispatch thread, so that tests waiting on sockets never tie up Swift's cooperative
/// thread pool (two threads on a two-core machine), which servers' async shutdown also needs.
public func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
    }
}

/// A blocking TCP client for tests, so a test controls exactly which bytes go out and when (pipelining, slow
/// clients, malformed requests). Every read has a timeout, so a test never hangs.
public final class TestSocket: @unchecked Sendable {
    private var fd: Int32
    private var buffer: [UInt8] = []
    public private(set) var eof = false

    public struct Failure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Connects to `127.0.0.1:port`; reads give up after `timeout` seconds.
    public init(port: Int, timeout: Double = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket() failed") }
        var tv = timeval(tv_sec: Int(timeout), tv_usec: .init((timeout - Double(Int(timeout))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            let error = errno
            // A class whose init throws after its properties are set still runs deinit: close here and mark the
            // descriptor gone, or deinit would close it again, maybe after the number was reused by another thread.
            close(fd)
            fd = -1
            throw Failure(description: "connect to port \(port) failed: errno \(error)")
        }
    }

    deinit { if fd >= 0 { close(fd) } }

    /// Closes the connection now (a client that goes away).
    public func closeNow() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    public func send(_ text: String) async throws { try await send(Array(text.utf8)) }

    public func send(_ bytes: [UInt8]) async throws { try await offload { try self.sendNow(bytes) } }

    /// Sends at once, blocking (for callers already off the concurrency pool).
    public func sendRaw(_ bytes: [UInt8]) throws { try sendNow(bytes) }

    /// Shuts the sending side (`shutdown(SHUT_WR)`, as `nc -N` does).
    public func shutdownWrite() { shutdown(fd, Int32(SHUT_WR)) }

    /// The next bytes the server sends, blocking up to the read timeout; nil on close or timeout.
    public func readChunk() -> [UInt8]? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 { return Array(chunk[..<count]) }
        if count == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) { eof = true }
        return nil
    }

    /// Whether the server closed the connection (waits up to the read timeout for it).
    public func waitForClose() async throws -> Bool { try await offload { try self.waitForCloseNow() } }

    /// Reads one HTTP/1.1 response. `head` says the request was HEAD (no body follows).
    public func readResponse(head: Bool = false) async throws -> TestResponse {
        try await offload { try self.readResponseNow(head: head) }
    }

    /// Reads a response head, then counts (and drops) its `Content-Length` body: for bodies too large to keep.
    public func readHeadAndCountBody() async throws -> (status: Int, bodyBytes: Int) {
        try await offload {
            var head = try self.readResponseNow(head: true)
            let length = head.header("content-length").flatMap(Int.init) ?? 0
            var counted = min(self.buffer.count, length)
            self.buffer.removeFirst(counted)
            while counted < length {
                guard try self.fill() else { break }
                let take = min(self.buffer.count, length - counted)
                counted += take
                self.buffer.removeFirst(take)
            }
            head.body = []
            return (head.status, counted)
        }
    }

    private func sendNow(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw Failure(description: "send failed: errno \(errno)") }
            offset += sent
        }
    }

    /// Reads more bytes into the buffer; false on EOF or timeout.
    @discardableResult
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if count > 0 {
            buffer.append(contentsOf: chunk[..<count])
            return true
        }
        if count == 0 {
            eof = true
            return false
        }
        if errno == EAGAIN || errno == EWOULDBLOCK { throw Failure(description: "read timed out") }
        eof = true  // ECONNRESET and friends: the peer is gone
        return false
    }

    private func waitForCloseNow() throws -> Bool {
        while !eof {
            if try !fill() { break }
        }
        return eof
    }

    private func readResponseNow(head: Bool) throws -> TestResponse {
        let headEnd: Int = try {
            while true {
                if let range = find([13, 10, 13, 10]) { return range }
                guard try fill() else { throw Failure(description: "connection closed before a response head") }
            }
        }()
        let headText = String(decoding: buffer[..<headEnd], as: UTF8.self)
        buffer.removeFirst(headEnd + 4)
        var lines = headText.split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else {
            throw Failure(description: "bad status line in \(headText)")
        }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]).lowercased(), String(line[line.index(after: colon)...]).trimmed))
        }
        var response = TestResponse(status: status, headers: headers, body: [])
        if head || status == 204 || status == 304 || (100..<200).contains(status) { return response }
        if let length = response.header("content-length").flatMap(Int.init) {
            while buffer.count < length {
                guard try fill() else { throw Failure(description: "connection closed inside a body") }
            }
            response.body = Array(buffer[..<length])
            buffer.removeFirst(length)
        } else if response.header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                let lineEnd: Int = try {
                    while true {
                        if let index = find([13, 10]) { return index }
                        guard try fill() else { throw Failure(description: "closed inside chunked body") }
                    }
                }()
                let sizeText = String(decoding: buffer[..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                guard let size = Int(sizeText, radix: 16) else { throw Failure(description: "bad chunk size") }
                buffer.removeFirst(lineEnd + 2)
                while buffer.count < size + 2 {
                    guard try fill() else { throw Failure(description: "closed inside a chunk") }
                }
                response.body += buffer[..<size]
                buffer.removeFirst(size + 2)
                if size == 0 { break }
            }
        } else {
            while try fill() {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    private func find(_ needle: [UInt8]) -> Int? {
        guard buffer.count >= needle.count else { return nil }
        for index in 0...(buffer.count - needle.count) where buffer[index] == needle[0] {
            if Array(buffer[index..<index + needle.count]) == needle { return index }
        }
        return nil
    }
}

/// A parsed response.
public struct TestResponse: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.0 == name.lowercased() }?.1
    }

    public var text: String { String(decoding: body, as: UTF8.self) }
}

extension StringProtocol {
    var trimmed: String {
        var slice = Substring(self)
        while slice.first == " " || slice.first == "\t" { slice.removeFirst() }
        while slice.last == " " || slice.last == "\t" { slice.removeLast() }
        return String(slice)
    }
}

/// One-shot requests for tests.
public enum TestHTTP {
    /// Sends one request on a new connection and reads the answer.
    public static func request(
        port: Int, _ method: String = "GET", _ target: String, headers: [(String, String)] = [], body: String? = nil
    ) async throws -> TestResponse {
        let socket = try TestSocket(port: port)
        var text = "\(method) \(target) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { text += "Host: 127.0.0.1\r\n" }
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        if let body { text += "Content-Length: \(body.utf8.count)\r\n" }
        text += "\r\n" + (body ?? "")
        try await socket.send(text)
        return try await socket.readResponse(head: method == "HEAD")
    }
}
