import Atomics
import NIOCore
import NIOHTTP1
import NIOPosix
import SluiceConfig
import SluiceServer

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The access log: one line per request (`AccessLogLine`: nginx's `combined` plus the gateway's fields, or JSON),
/// to standard output, standard error or a file.
///
/// A line is formatted on the event loop that served the request, into that loop's buffer (no lock), and written
/// off the loop: a buffer is handed to one writer thread when it holds 32 KiB, or 200 ms after its first line,
/// so a slow disk or a full pipe never stalls a request. If the writer falls more than 8 MiB behind, lines are
/// dropped and counted (`dropped`) rather than held without bound. Opening and reopening a file (SIGUSR1, after
/// logrotate moved it) happen on the writer thread too, between two writes.
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

    /// Where lines go. Only the writer thread touches it.
    private final class Destination: @unchecked Sendable {
        var descriptor: CInt
        var target: AccessLogTarget?
        var owned = false

        init(descriptor: CInt) { self.descriptor = descriptor }
    }

    private let buffers: LoopLocal<Buffer>
    private let writer: NIOThreadPool
    private let destination: Destination
    /// 0 off, 1 combined, 2 json: read per request without a lock.
    private let mode = ManagedAtomic<Int>(1)
    /// Bytes handed to the writer and not written yet.
    private let behind = ManagedAtomic(0)
    /// Lines dropped because the writer was too far behind.
    let dropped = ManagedAtomic(0)

    /// Writes to `descriptor` (standard output by default); the descriptor stays the caller's.
    init(group: any EventLoopGroup, descriptor: CInt = STDOUT_FILENO) {
        self.destination = Destination(descriptor: descriptor)
        self.buffers = LoopLocal(group: group) { _ in Buffer() }
        self.writer = NIOThreadPool(numberOfThreads: 1)
        writer.start()
    }

    /// Lines are wanted.
    var isOn: Bool { mode.load(ordering: .relaxed) != 0 }

    /// Applies `access_log` and `access_log_format`: the format at once, the destination once the lines already
    /// handed over are written. Waits until a file is open (or failed to open: the error is returned and the
    /// previous destination stays).
    func configure(on: Bool, target: AccessLogTarget, format: AccessLogFormat) async -> String? {
        mode.store(on ? (format == .json ? 2 : 1) : 0, ordering: .relaxed)
        guard on else { return nil }
        return await onWriter { [destination] in Self.open(target, into: destination, reopen: false) }
    }

    /// Opens the file again by its name (SIGUSR1 after logrotate moved it). Returns an error text, or nil.
    func reopen() async -> String? {
        await onWriter { [destination] in
            guard let target = destination.target, case .file = target else { return nil }
            return Self.open(target, into: destination, reopen: true)
        }
    }

    private func onWriter(_ work: @escaping @Sendable () -> String?) async -> String? {
        await withCheckedContinuation { continuation in
            writer.submit { _ in continuation.resume(returning: work()) }
        }
    }

    /// On the writer thread: points `destination` at `target` (a file is opened for appending; created 0644).
    private static func open(_ target: AccessLogTarget, into destination: Destination, reopen: Bool) -> String? {
        guard reopen || destination.target != target else { return nil }
        let descriptor: CInt
        switch target {
        case .stdout: descriptor = STDOUT_FILENO
        case .stderr: descriptor = STDERR_FILENO
        case .file(let path):
            descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
            guard descriptor >= 0 else {
                return "cannot open the access log \(path): \(String(cString: strerror(errno)))"
            }
        }
        if destination.owned { close(destination.descriptor) }
        destination.descriptor = descriptor
        destination.target = target
        if case .file = target { destination.owned = true } else { destination.owned = false }
        return nil
    }

    /// One request's line. Call on `eventLoop`, the loop that served it.
    func record(on eventLoop: any EventLoop, _ entry: AccessLogEntry) {
        let format: AccessLogFormat
        switch mode.load(ordering: .relaxed) {
        case 0: return
        case 2: format = .json
        default: format = .combined
        }
        let buffer = buffers.value(on: eventLoop)
        var line = buffer.bytes
        buffer.bytes = []
        AccessLogLine.append(entry, format: format, to: &line)
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

    /// Stops the writer thread once what it was handed is written, and closes a file it opened.
    func shutdown() async {
        await flush()
        _ = await onWriter { [destination] in
            if destination.owned { close(destination.descriptor) }
            destination.owned = false
            destination.descriptor = -1
            return nil
        }
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
        let destination = self.destination
        let behind = self.behind
        writer.submit { _ in
            Self.writeAll(chunk, to: destination.descriptor)
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
