import ChatCore
import Foundation
import Testing

/// A timestamp keeps its millisecond through a round trip: parsed from a client, written to a
/// database, read back (as SQLite's or PostgreSQL's text), and written again.
@Suite(.timeLimit(.minutes(1))) struct TimestampTests {
    @Test func aMillisecondSurvivesParsingStorageAndFormatting() throws {
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<20_000 {
            let ms = Int.random(in: 1_700_000_000_000...1_900_000_000_000, using: &generator)
            let text = Timestamp.format(Date(timeIntervalSince1970: Double(ms) / 1000))
            let parsed = try #require(Timestamp.parse(text), "\(text)")
            let postgresText = text.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: "+00")
            for read in [Timestamp.format(parsed), postgresText] {
                let back = try #require(Timestamp.parse(read))
                guard Timestamp.format(back) == text else {
                    Issue.record("\(text) → \(read) → \(Timestamp.format(back))")
                    return
                }
            }
        }
    }

    @Test func formatsFixedWidthInUTC() {
        #expect(Timestamp.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 1_767_225_599.999)) == "2025-12-31T23:59:59.999Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 951_782_400.007)) == "2000-02-29T00:00:00.007Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: -1)) == "1969-12-31T23:59:59.000Z")
        #expect(Timestamp.format(Date(timeIntervalSince1970: 253_402_300_800)) == "10000-01-01T00:00:00.000Z", "past year 9999: wider")
    }

    @Test func offsetsFractionsAndZonesAreRead() {
        #expect(Timestamp.parse("2026-01-01T01:00:00+01:00") == Date(timeIntervalSince1970: 1_767_225_600))
        #expect(Timestamp.parse("2026-01-01T01:00:00+0100") == Date(timeIntervalSince1970: 1_767_225_600))
        #expect(Timestamp.parse("2026-01-01 01:00:00+01") == Date(timeIntervalSince1970: 1_767_225_600))
        #expect(Timestamp.parse("2026-01-01T00:00:00.5Z") == Date(timeIntervalSince1970: 1_767_225_600.5))
        #expect(Timestamp.parse("2026-01-01T00:00:00.123456Z").map(Timestamp.format) == "2026-01-01T00:00:00.123Z")
        #expect(Timestamp.parse("2026-01-01T00:00:00") == Date(timeIntervalSince1970: 1_767_225_600), "no zone: UTC")
        for bad in ["2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00Zjunk", "2026-01-01T24:00:00Z", "2026-01-01T00:00:00.Z",
                    "2026-01-01T00:00:00+1", "2026-01-01X00:00:00Z"] {
            #expect(Timestamp.parse(bad) == nil, "\(bad)")
        }
    }
}
