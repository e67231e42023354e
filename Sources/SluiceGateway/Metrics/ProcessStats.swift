#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The gateway process's own resources, read from `/proc` (Linux) when asked: resident memory, open file
/// descriptors and their limit. No NIO; cheap enough for every scrape (a few system calls).
struct ProcessStats: Sendable, Equatable {
    var residentBytes: Int
    var openDescriptors: Int
    var maxDescriptors: Int

    static func read() -> ProcessStats {
        ProcessStats(residentBytes: residentBytes(), openDescriptors: openDescriptors(), maxDescriptors: maxDescriptors())
    }

    /// `/proc/self/statm`'s second field (resident pages) times the page size; 0 where unreadable.
    static func residentBytes() -> Int {
        let descriptor = open("/proc/self/statm", O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return 0 }
        defer { close(descriptor) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let count = buffer.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
        guard count > 0 else { return 0 }
        let fields = buffer[..<count].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Entries of `/proc/self/fd`, less the one the count itself holds open.
    static func openDescriptors() -> Int {
        guard let directory = opendir("/proc/self/fd") else { return 0 }
        defer { closedir(directory) }
        var count = 0
        while let entry = readdir(directory) {
            let isDot = withUnsafeBytes(of: entry.pointee.d_name) { $0.first == UInt8(ascii: ".") }
            if !isDot { count += 1 }
        }
        return max(0, count - 1)
    }

    /// The soft `RLIMIT_NOFILE`.
    static func maxDescriptors() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 0 }
        return limit.rlim_cur >= rlim_t(Int.max) ? Int.max : Int(limit.rlim_cur)
    }
}
