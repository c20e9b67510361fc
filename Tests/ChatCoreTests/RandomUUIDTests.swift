import ChatCore
import Foundation
import Testing

/// `UUID.random()`, the ids of everything parley creates and of requests without their own.
@Suite struct RandomUUIDTests {
    @Test func versionFourRFCVariantAndDistinct() {
        var seen = Set<UUID>()
        for _ in 0..<2000 {
            let id = UUID.random()
            let text = id.uuidString.lowercased()
            let characters = Array(text)
            #expect(characters[14] == "4", "version: \(text)")
            #expect("89ab".contains(characters[19]), "variant: \(text)")
            #expect(UUID(uuidString: text) == id)
            seen.insert(id)
        }
        #expect(seen.count == 2000)
    }

    /// `UUID.timeOrdered()`, the ids of what parley stores: version 7 with the millisecond in
    /// front, so ids of later milliseconds sort after earlier ones as text.
    @Test func timeOrderedIdsAreVersionSevenAndSortByTheirMillisecond() {
        let start = Date(timeIntervalSince1970: 1_790_000_000.123)
        var seen = Set<UUID>()
        var previous = ""
        for step in 0..<2000 {
            let id = UUID.timeOrdered(now: start.addingTimeInterval(Double(step) / 1000))
            let text = id.lowercasedText
            let characters = Array(text)
            #expect(characters[14] == "7", "version: \(text)")
            #expect("89ab".contains(characters[19]), "variant: \(text)")
            #expect(text > previous, "\(text) does not sort after \(previous)")
            previous = text
            seen.insert(id)
        }
        #expect(seen.count == 2000)
        // The first 48 bits are the millisecond.
        let id = UUID.timeOrdered(now: start)
        let prefix = id.lowercasedText.replacingOccurrences(of: "-", with: "").prefix(12)
        #expect(UInt64(prefix, radix: 16) == 1_790_000_000_123)
        // Within one millisecond they differ in their 74 random bits.
        #expect(Set((0..<1000).map { _ in UUID.timeOrdered(now: start) }).count == 1000)
    }
}
