#if canImport(Glibc)
import Glibc
#endif
import NIOCore
import NIOPosix

/// The CPUs this process may run on. NIO sizes its shared event loop group by the machine's cores, so a server
/// started under `taskset -c 0` (or in a cpuset) would run two loops on one CPU, and pay for their switching in
/// latency. Go sizes `GOMAXPROCS` by the affinity mask; the commands here do the same.
public enum CPUAffinity {
    /// How many CPUs the affinity mask allows (at least 1); the core count where the mask cannot be read.
    public static var usableCPUs: Int {
        #if os(Linux)
        // `Cpus_allowed:` in /proc/self/status is the mask as comma-separated hex words (glibc keeps
        // `sched_getaffinity` behind _GNU_SOURCE). Read at start-up, before any event loop runs.
        if let file = fopen("/proc/self/status", "r") {
            defer { fclose(file) }
            var line = [CChar](repeating: 0, count: 4096)
            while fgets(&line, Int32(line.count), file) != nil {
                let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
                guard text.hasPrefix("Cpus_allowed:") else { continue }
                if let count = countMask(text.dropFirst("Cpus_allowed:".count)), count > 0 { return count }
                break
            }
        }
        #endif
        return System.coreCount
    }

    /// The CPUs in a hex mask such as `00000000,00000003`; nil if it is not one.
    static func countMask(_ mask: Substring) -> Int? {
        var count = 0
        var digits = 0
        for character in mask where !character.isWhitespace && character != "," {
            guard let value = character.hexDigitValue else { return nil }
            count += value.nonzeroBitCount
            digits += 1
        }
        return digits > 0 ? count : nil
    }

    /// Sizes NIO's shared event loop group to the usable CPUs. Call first thing in `main`, before anything uses
    /// `MultiThreadedEventLoopGroup.singleton`.
    public static func sizeSharedEventLoops() {
        NIOSingletons.groupLoopCountSuggestion = usableCPUs
    }
}
