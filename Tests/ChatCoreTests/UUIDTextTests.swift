import ChatCore
import Foundation
import Testing

/// UUIDs read and written by hand agree with Foundation's `UUID(uuidString:)` and `uuidString`.
@Suite struct UUIDTextTests {
    @Test func writesWhatFoundationWritesInLowerCaseAndReadsItBack() {
        for _ in 0..<2000 {
            let id = UUID.random()
            #expect(id.lowercasedText == id.uuidString.lowercased())
            #expect(UUID.parse(id.lowercasedText) == id)
            #expect(UUID.parse(id.uuidString) == id, "upper case too")
        }
        let zero = UUID(uuid: (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
        #expect(zero.lowercasedText == "00000000-0000-0000-0000-000000000000")
        let ones = UUID(uuid: (255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255))
        #expect(ones.lowercasedText == "ffffffff-ffff-ffff-ffff-ffffffffffff")
    }

    @Test(arguments: [
        "", "e621e1f8-c36c-495a-93fc-0c247a3e6e5", "e621e1f8-c36c-495a-93fc-0c247a3e6e5f0", "e621e1f8c36c-495a-93fc-0c247a3e6e5f0",
        "e621e1f8-c36c-495a-93fc_0c247a3e6e5f", "g621e1f8-c36c-495a-93fc-0c247a3e6e5f", "e621e1f8-c36c-495a-93fc-0c247a3e6e5g",
        "{e621e1f8-c36c-495a-93fc-0c247a3e6e5f}", "e621e1f8-c36c-495a-93fc-0c247a3e6e5 ",
        "e621e1f8-c36c-495a-93fc-0c247a3e6é5", "E621E1F8-C36C-495A-93FC-0C247A3E6E5F",
        "e621e1f8-c36c-495a-93fc-0c247a3e6e5f", "--------------------------------ffff",
    ])
    func readsExactlyWhatFoundationReads(_ text: String) {
        #expect(UUID.parse(text) == UUID(uuidString: text), "\(text)")
    }

    /// Foundation reads each group with `sscanf`'s `%x`, which skips blanks and takes a sign:
    /// an id is its 36 characters and nothing else.
    @Test(arguments: [" e621e1f8-c36c-495a-93fc-0c247a3e6e5", "e621e1f8-+36c-495a-93fc-0c247a3e6e5f", "e621e1f8- 36c-495a-93fc-0c247a3e6e5f"])
    func readsNothingButHexadecimalDigits(_ text: String) {
        #expect(UUID.parse(text) == nil)
    }
}
