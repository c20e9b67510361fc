public import FoundationEssentials

/// One result row; every driver hands values over as text (or null), decoded here with
/// errors that name the column.
public struct SQLRow: Sendable {
    let columns: [String]
    let values: [String?]

    public init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    public subscript(column: String) -> String? {
        guard let i = columns.firstIndex(of: column) else { return nil }
        return values[i]
    }

    public func string(_ column: String) throws(SQLError) -> String {
        guard let value = self[column] else { throw SQLError(.decoding, "column \(column) is null or missing") }
        return value
    }

    public func int(_ column: String) throws(SQLError) -> Int {
        guard let value = Int(try string(column)) else { throw SQLError(.decoding, "column \(column) is not an integer") }
        return value
    }

    /// PostgreSQL sends `t`/`f`, SQLite `1`/`0`.
    public func bool(_ column: String) throws(SQLError) -> Bool {
        switch try string(column) {
        case "t", "true", "1": return true
        case "f", "false", "0": return false
        default: throw SQLError(.decoding, "column \(column) is not a boolean")
        }
    }

    public func date(_ column: String) throws(SQLError) -> Date {
        guard let date = SQLDate.parse(try string(column)) else { throw SQLError(.decoding, "column \(column) is not a timestamp") }
        return date
    }

    public func optionalDate(_ column: String) throws(SQLError) -> Date? {
        guard self[column] != nil else { return nil }
        return try date(column)
    }

    public func uuid(_ column: String) throws(SQLError) -> UUID {
        guard let uuid = UUID(uuidString: try string(column)) else { throw SQLError(.decoding, "column \(column) is not a UUID") }
        return uuid
    }
}

/// Timestamps as text: written as `2026-11-23T17:40:39.123Z` (fixed width, so SQLite compares
/// them correctly as strings), read in that form or PostgreSQL's `2026-11-23 17:40:39.123+00`.
public enum SQLDate {
    public static func format(_ date: Date) -> String {
        // To the microsecond first (a time read back as .655 may be .65499999… in binary),
        // then truncated to the millisecond.
        let totalMs = Int(((date.timeIntervalSince1970 * 1_000_000).rounded() / 1000).rounded(.down))
        let ms = ((totalMs % 1000) + 1000) % 1000
        let seconds = (totalMs - ms) / 1000
        let days = Int((Double(seconds) / 86400).rounded(.down))
        let secondOfDay = seconds - days * 86400
        let (y, m, d) = civilFromDays(days)
        func pad(_ n: Int, _ w: Int = 2) -> String { let s = String(n); return String(repeating: "0", count: max(0, w - s.count)) + s }
        return "\(pad(y, 4))-\(pad(m))-\(pad(d))T\(pad(secondOfDay / 3600)):\(pad(secondOfDay % 3600 / 60)):\(pad(secondOfDay % 60)).\(pad(ms, 3))Z"
    }

    public static func parse(_ text: String) -> Date? {
        let b = Array(text.utf8)
        func num(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for i in from..<from + count {
                guard b[i] >= 48, b[i] <= 57 else { return nil }
                v = v * 10 + Int(b[i] - 48)
            }
            return v
        }
        guard b.count >= 19, let y = num(0, 4), let mo = num(5, 2), let d = num(8, 2), let h = num(11, 2),
              let mi = num(14, 2), let s = num(17, 2), b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 32
        else { return nil }
        var i = 19
        var fraction = 0.0
        if i < b.count, b[i] == 46 {
            i += 1
            var scale = 0.1
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                fraction += Double(b[i] - 48) * scale
                scale /= 10
                i += 1
            }
        }
        var offset = 0
        if i < b.count {
            switch b[i] {
            case 90: i += 1  // Z
            case 43, 45:
                let sign = b[i] == 45 ? -1 : 1
                guard let oh = num(i + 1, 2) else { return nil }
                var om = 0
                if i + 3 < b.count { om = num(b[i + 3] == 58 ? i + 4 : i + 3, 2) ?? 0 }
                offset = sign * (oh * 3600 + om * 60)
            default: return nil
            }
        }
        let days = daysFromCivil(y, mo, d)
        let seconds = Double(days * 86400 + h * 3600 + mi * 60 + s - offset) + fraction
        return Date(timeIntervalSince1970: seconds)
    }

    // Howard Hinnant's civil-calendar algorithms (public domain): exact for any Gregorian date.
    static func daysFromCivil(_ year: Int, _ month: Int, _ day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    static func civilFromDays(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp + (mp < 10 ? 3 : -9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
