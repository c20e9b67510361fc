public import FoundationEssentials

/// Timestamps as text, as the API and both databases carry them: written as
/// `2026-11-23T17:40:39.123Z` (RFC 3339, UTC, milliseconds, fixed width), read in that form,
/// with an offset (`+02:00`, `+0200`, `+02`), with a space for the `T` (PostgreSQL's
/// `2026-11-23 17:40:39.123+00`), or without a zone (UTC).
///
/// Both ways go through whole numbers: the date and time from the whole milliseconds (a
/// formatter's fractional seconds of a binary `.109` can come out as `.108`), the fraction read
/// as whole microseconds, so what was written reads back as the same millisecond.
public enum Timestamp {
    public static func format(_ date: Date) -> String {
        // To the microsecond first (a time read back as .655 may be .65499999… in binary),
        // then truncated to the millisecond.
        let totalMs = Int(((date.timeIntervalSince1970 * 1_000_000).rounded() / 1000).rounded(.down))
        let ms = ((totalMs % 1000) + 1000) % 1000
        let seconds = (totalMs - ms) / 1000
        let days = Int((Double(seconds) / 86400).rounded(.down))
        let secondOfDay = seconds - days * 86400
        let (y, m, d) = civilFromDays(days)
        guard (0...9999).contains(y) else {
            func pad(_ n: Int, _ w: Int = 2) -> String { let s = String(n); return String(repeating: "0", count: max(0, w - s.count)) + s }
            return "\(pad(y, 4))-\(pad(m))-\(pad(d))T\(pad(secondOfDay / 3600)):\(pad(secondOfDay % 3600 / 60)):\(pad(secondOfDay % 60)).\(pad(ms, 3))Z"
        }
        // Fixed width, so written digit by digit into one buffer: every stored row and every
        // message in a response carries a few of these.
        return String(unsafeUninitializedCapacity: 24) { buffer in
            func put(_ value: Int, _ width: Int, at offset: Int) {
                var value = value
                for i in stride(from: offset + width - 1, through: offset, by: -1) {
                    buffer[i] = UInt8(truncatingIfNeeded: 48 + value % 10)
                    value /= 10
                }
            }
            put(y, 4, at: 0); buffer[4] = 45
            put(m, 2, at: 5); buffer[7] = 45
            put(d, 2, at: 8); buffer[10] = 84
            put(secondOfDay / 3600, 2, at: 11); buffer[13] = 58
            put(secondOfDay % 3600 / 60, 2, at: 14); buffer[16] = 58
            put(secondOfDay % 60, 2, at: 17); buffer[19] = 46
            put(ms, 3, at: 20); buffer[23] = 90
            return 24
        }
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
              let mi = num(14, 2), let s = num(17, 2), b[4] == 45, b[7] == 45, b[10] == 84 || b[10] == 116 || b[10] == 32,
              b[13] == 58, b[16] == 58, (1...12).contains(mo), (1...31).contains(d), h < 24, mi < 60, s < 61
        else { return nil }
        var i = 19
        var micros = 0
        if i < b.count, b[i] == 46 {
            i += 1
            var digits = 0
            while i < b.count, b[i] >= 48, b[i] <= 57 {
                if digits < 6 { micros = micros * 10 + Int(b[i] - 48) }
                digits += 1
                i += 1
            }
            guard digits > 0 else { return nil }
            for _ in min(digits, 6)..<6 { micros *= 10 }
        }
        var offset = 0
        if i < b.count {
            switch b[i] {
            case 90, 122:  // Z
                i += 1
            case 43, 45:  // ±HH, ±HHMM, ±HH:MM
                let sign = b[i] == 45 ? -1 : 1
                guard let oh = num(i + 1, 2), oh < 24 else { return nil }
                i += 3
                var om = 0
                if i < b.count {
                    if b[i] == 58 { i += 1 }
                    guard let minutes = num(i, 2), minutes < 60 else { return nil }
                    om = minutes
                    i += 2
                }
                offset = sign * (oh * 3600 + om * 60)
            default: return nil
            }
        }
        guard i == b.count else { return nil }
        let days = daysFromCivil(y, mo, d)
        return Date(timeIntervalSince1970: Double(days * 86400 + h * 3600 + mi * 60 + s - offset) + Double(micros) / 1_000_000)
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
