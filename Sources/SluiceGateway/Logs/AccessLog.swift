import Atomics
import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The access log: one line per request, in nginx's `combined` format followed by the time taken, the route and
/// the upstream server:
///
///     127.0.0.1 - - [04/Dec/2026:16:13:08 +0000] "GET /ping HTTP/1.1" 200 18 "-" "curl/7.88.1" 0.001 route=all upstream=10.0.1.10:8081
///
/// A line is formatted on the event loop that served the request, into that loop's buffer (no lock), and written
/// off the loop: a buffer is handed to one writer thread when it holds 32 KiB, or 200 ms after its first line,
/// so a slow disk or a full pipe never stalls a request. If the writer falls more than 8 MiB behind, lines are
/// dropped and counted (`dropped`) rather than held without bound.
final class AccessLog: Sendable {
    static let flushSize = 32 * 1024
    static let flushDelay = TimeAmount.milliseconds(200)
    static let maxBehind = 8 * 1024 * 1024

    /// One loop's unwritten lines. Loop-confined.
    final class Buffer {
        var bytes: [UInt8] = []
        var lines = 0
        var flushScheduled = false

        init() { bytes.reserveCapacity(AccessLog.flushSize + 1024) }
    }

    private let buffers: LoopLocal<Buffer>
    private let writer: NIOThreadPool
    private let descriptor: CInt
    /// Bytes handed to the writer and not written yet.
    private let behind = ManagedAtomic(0)
    /// Lines dropped because the writer was too far behind.
    let dropped = ManagedAtomic(0)

    /// Writes to `descriptor` (standard output by default); the descriptor stays the caller's.
    init(group: any EventLoopGroup, descriptor: CInt = STDOUT_FILENO) {
        self.descriptor = descriptor
        self.buffers = LoopLocal(group: group) { _ in Buffer() }
        self.writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
    }

    /// One request's line. Call on `eventLoop`, the loop that served it.
    func record(
        on eventLoop: any EventLoop, client: String?, method: String, uri: String, version: HTTPVersion,
        status: UInt, bytes: Int, referer: String?, userAgent: String?, seconds: Double, route: String?,
        upstream: String?
    ) {
        let buffer = buffers.value(on: eventLoop)
        var line = buffer.bytes
        buffer.bytes = []
        line.append(contentsOf: (client ?? "-").utf8)
        line.append(contentsOf: " - - [".utf8)
        line.append(contentsOf: HTTPDate.nowForLog().utf8)
        line.append(contentsOf: "] \"".utf8)
        Self.appendEscaped(method, to: &line)
        line.append(UInt8(ascii: " "))
        Self.appendEscaped(uri, to: &line)
        Self.appendVersion(version, to: &line)
        line.append(contentsOf: "\" ".utf8)
        line.append(contentsOf: String(status).utf8)
        line.append(UInt8(ascii: " "))
        line.append(contentsOf: String(bytes).utf8)
        line.append(contentsOf: " \"".utf8)
        Self.appendEscaped(referer ?? "-", to: &line)
        line.append(contentsOf: "\" \"".utf8)
        Self.appendEscaped(userAgent ?? "-", to: &line)
        line.append(contentsOf: "\" ".utf8)
        Self.appendSeconds(seconds, to: &line)
        line.append(contentsOf: " route=".utf8)
        line.append(contentsOf: (route ?? "-").utf8)
        line.append(contentsOf: " upstream=".utf8)
        line.append(contentsOf: (upstream ?? "-").utf8)
        line.append(UInt8(ascii: "\n"))
        buffer.bytes = line
        buffer.lines += 1
        if buffer.bytes.count >= Self.flushSize {
            handOff(buffer)
        } else if !buffer.flushScheduled {
            buffer.flushScheduled = true
            eventLoop.assumeIsolated().scheduleTask(in: Self.flushDelay) { [self] in
                buffer.flushScheduled = false
                handOff(buffer)
            }
        }
    }

    /// Hands every loop's lines to the writer and waits until they are written (at shutdown), but no longer than
    /// `limit`: a destination that does not take them (a full pipe nobody reads) must not hold a shutdown.
    func flush(limit: TimeAmount = .seconds(2)) async {
        var handed: [EventLoopFuture<Void>] = []
        var anyLoop: (any EventLoop)?
        buffers.forEach { loop, _ in
            anyLoop = loop
            handed.append(loop.submit { [self] in handOff(buffers.value(on: loop)) })
        }
        for future in handed { try? await future.get() }
        guard let loop = anyLoop else { return }
        let written = loop.makePromise(of: Void.self)
        let once = ManagedAtomic(false)
        let complete: @Sendable () -> Void = {
            if once.compareExchange(expected: false, desired: true, ordering: .relaxed).exchanged { written.succeed() }
        }
        writer.submit { _ in complete() }
        let timeout = loop.scheduleTask(in: limit) { complete() }
        try? await written.futureResult.get()
        timeout.cancel()
    }

    /// Stops the writer thread once what it was handed is written (for tests; a daemon just flushes and exits).
    func shutdown() async {
        await flush()
        try? await writer.shutdownGracefully()
    }

    private func handOff(_ buffer: Buffer) {
        guard !buffer.bytes.isEmpty else { return }
        let chunk = buffer.bytes
        let lines = buffer.lines
        buffer.bytes = []
        buffer.bytes.reserveCapacity(Self.flushSize + 1024)
        buffer.lines = 0
        guard behind.load(ordering: .relaxed) + chunk.count <= Self.maxBehind else {
            dropped.wrappingIncrement(by: lines, ordering: .relaxed)
            return
        }
        behind.wrappingIncrement(by: chunk.count, ordering: .relaxed)
        let descriptor = self.descriptor
        let behind = self.behind
        writer.submit { _ in
            Self.writeAll(chunk, to: descriptor)
            behind.wrappingDecrement(by: chunk.count, ordering: .relaxed)
        }
    }

    private static func writeAll(_ bytes: [UInt8], to descriptor: CInt) {
        bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset < raw.count {
                let written = write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                if written > 0 {
                    offset += written
                } else if written < 0 && errno == EINTR {
                    continue
                } else {
                    return  // a closed or broken destination: the lines are lost, the gateway goes on
                }
            }
        }
    }

    /// ` HTTP/1.1` as it stands in a request line (with the leading space).
    static func appendVersion(_ version: HTTPVersion, to line: inout [UInt8]) {
        line.append(contentsOf: " HTTP/".utf8)
        line.append(contentsOf: String(version.major).utf8)
        line.append(UInt8(ascii: "."))
        line.append(contentsOf: String(version.minor).utf8)
    }

    /// Seconds with millisecond resolution, as nginx's `$request_time`.
    static func appendSeconds(_ seconds: Double, to line: inout [UInt8]) {
        let millis = max(0, Int((seconds * 1000).rounded()))
        line.append(contentsOf: String(millis / 1000).utf8)
        line.append(UInt8(ascii: "."))
        let fraction = millis % 1000
        if fraction < 100 { line.append(UInt8(ascii: "0")) }
        if fraction < 10 { line.append(UInt8(ascii: "0")) }
        line.append(contentsOf: String(fraction).utf8)
    }

    /// Client-controlled text, escaped as nginx does: `"`, `\`, control bytes and bytes above 0x7E as `\xHH`, so a
    /// line can never be broken or forged.
    static func appendEscaped(_ text: String, to line: inout [UInt8]) {
        func needsEscape(_ byte: UInt8) -> Bool {
            byte < 0x20 || byte > 0x7E || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\")
        }
        let utf8 = text.utf8
        guard utf8.contains(where: needsEscape) else {
            line.append(contentsOf: utf8)  // the common case: nothing to escape, one copy
            return
        }
        let hex = Array("0123456789ABCDEF".utf8)
        for byte in utf8 {
            if needsEscape(byte) {
                line.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "x"), hex[Int(byte >> 4)], hex[Int(byte & 15)]])
            } else {
                line.append(byte)
            }
        }
    }
}
