#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The `Date` header value (RFC 9110 §5.6.7, IMF-fixdate), formatted at most once a second.
///
/// Formatting a date per response is measurable on the hot path; every response in the
/// same second shares these bytes.
enum HTTPDate {
    private static let cache = Mutex<(second: Int, bytes: [UInt8])>((-1, []))

    static func current() -> [UInt8] {
        let now = time(nil)
        return cache.withLock { entry in
            if entry.second != now {
                entry = (now, format(now))
            }
            return entry.bytes
        }
    }

    static func format(_ seconds: time_t) -> [UInt8] {
        var t = seconds
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let text = "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) "
            + "\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
        return Array(text.utf8)
    }
}
