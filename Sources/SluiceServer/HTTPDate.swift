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
    private final class Cache {
        var second = -1
        var value = ""
        var logValue = ""
        var isoValue = ""
    }

    /// One cache per thread, so event loops never contend.
    nonisolated(unsafe) private static let cache = ThreadSpecificVariable<Cache>()

    /// Now, as `Sun, 06 Nov 1994 08:49:37 GMT`.
    public static func now() -> String { current().value }

    /// Now, as an access log writes it: `06/Nov/1994:08:49:37 +0000`.
    public static func nowForLog() -> String { current().logValue }

    /// Now, in ISO 8601 (RFC 3339) UTC: `1994-11-06T08:49:37Z`.
    public static func nowISO() -> String { current().isoValue }

    private static func current() -> Cache {
        let cache: Cache
        if let current = Self.cache.currentValue {
            cache = current
        } else {
            cache = Cache()
            Self.cache.currentValue = cache
        }
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
