import NIOPosix

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The current time as servers write it, formatted at most once a second per thread: the `Date` header value
/// (RFC 9110 §5.6.7, IMF-fixdate) and the access log's time (nginx's `$time_local`, in UTC).
public enum HTTPDate {
    /// One thread's formatted times. A loop-bound handler keeps its loop's (`forThisThread()`) and asks it for
    /// `now()`, which saves the thread-specific lookup on every answer; it must be used on that thread only.
    public final class ThreadCache {
        fileprivate var second = -1
        fileprivate var value = ""
        fileprivate var logValue = ""
        fileprivate var isoValue = ""

        /// Now, as `Sun, 06 Nov 1994 08:49:37 GMT`.
        public func now() -> String { HTTPDate.refresh(self).value }
    }

    /// One cache per thread, so event loops never contend.
    nonisolated(unsafe) private static let cache = ThreadSpecificVariable<ThreadCache>()

    /// This thread's cache.
    public static func forThisThread() -> ThreadCache {
        if let current = Self.cache.currentValue { return current }
        let made = ThreadCache()
        Self.cache.currentValue = made
        return made
    }

    /// Now, as `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func now() -> String { current().value }

    /// Now, as an access log writes it: `06/Nov/1994:08:49:37 +0000`.
    public static func nowForLog() -> String { current().logValue }

    /// Now, in ISO 8601 (RFC 3339) UTC: `1994-11-06T08:49:37Z`.
    public static func nowISO() -> String { current().isoValue }

    private static func current() -> ThreadCache { refresh(forThisThread()) }

    private static func refresh(_ cache: ThreadCache) -> ThreadCache {
        var now = time(nil)
        if now != cache.second {
            cache.second = now
            var parts = tm()
            gmtime_r(&now, &parts)
            cache.value = format(parts)
            cache.logValue = formatForLog(parts)
            cache.isoValue = "\(1900 + parts.tm_year)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T"
                + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
        }
        return cache
    }

    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    private static func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }

    /// `seconds` since the epoch as an IMF-fixdate (`Last-Modified`).
    public static func format(epochSeconds seconds: Int) -> String {
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        return format(parts)
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) as seconds since the epoch, or nil for anything else (the
    /// obsolete forms included: a validator that does not parse is ignored, which is always safe).
    public static func parse(_ text: String) -> Int? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[0].count == 4, fields[0].hasSuffix(","), fields[5] == "GMT",
            fields[1].count == 2, let day = Int32(fields[1]), let month = months.firstIndex(of: String(fields[2])),
            fields[3].count == 4, let year = Int32(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":")
        guard clock.count == 3, clock.allSatisfy({ $0.count == 2 }), let hour = Int32(clock[0]),
            let minute = Int32(clock[1]), let second = Int32(clock[2]), (1...31).contains(day), hour < 24, minute < 60,
            second < 61
        else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = Int32(month)
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int(timegm(&parts))
    }

    static func format(_ parts: tm) -> String {
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(1900 + parts.tm_year) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    static func formatForLog(_ parts: tm) -> String {
        "\(two(parts.tm_mday))/\(months[Int(parts.tm_mon)])/\(1900 + parts.tm_year):"
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) +0000"
    }
}

@available(*, unavailable)
extension HTTPDate.ThreadCache: Sendable {}
