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
}
