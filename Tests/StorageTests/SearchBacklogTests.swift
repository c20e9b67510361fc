import ChatCore
import Foundation
import Storage
import StorageTesting
import Testing

/// SQLite's messages reach the full-text index in batches, through `search_backlog`: whatever
/// happens to a message before or after its batch, the index ends up holding exactly the
/// messages as they are (FTS5's own integrity check compares it with the table), and a search
/// finds everything committed before it.
@Suite(.timeLimit(.minutes(5))) struct SearchBacklogTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    @Test func theIndexHoldsExactlyTheMessagesAsTheyAreWhateverHappensWhileTheyWait() async throws {
        let db = try #require(try await TestBackend.sqlite.makeDatabase())
        let owner = User(id: User.ID(UUID()), email: try EmailAddress("ann@example.org"), passwordHash: "h", role: .user, createdAt: t0)
        try await SQLUserRepository(database: db).create(owner)
        let sessions = SQLChatSessionRepository(database: db), messages = SQLMessageRepository(database: db)
        let session = ChatSession(id: ChatSession.ID(UUID()), ownerID: owner.id, projectID: nil, title: "t", model: "mock", createdAt: t0, updatedAt: t0)
        try await sessions.create(session)
        var parent: Message.ID?
        func add(_ content: String, _ status: Message.Status = .complete) async throws -> Message {
            var message = Message(id: Message.ID(UUID()), sessionID: session.id, role: .user, content: content, status: status, createdAt: t0, updatedAt: t0)
            message.parentID = parent
            let stored = try await messages.append(message)
            parent = stored.id
            return stored
        }
        func found(_ word: String) async throws -> Int {
            try await messages.search(SearchQuery(terms: [word]), ownerID: owner.id, limit: 50, cursor: nil).items.count
        }
        func waiting() async throws -> Int { try await db.query("SELECT count(*) AS n FROM search_backlog", []).first?.int("n") ?? -1 }

        // Indexed, then edited: the old words leave the index, the new ones arrive with the next batch.
        var edited = try await add("apricot")
        #expect(try await waiting() == 1, "a new message waits for its batch")
        #expect(try await messages.indexSearchBacklog() == 1)
        #expect(try await waiting() == 0)
        edited.content = "blueberry"
        try await messages.update(edited)
        // Edited while it waits: indexed once, as it is when the batch runs.
        var twice = try await add("cherry")
        twice.content = "damson"
        try await messages.update(twice)
        // An answer: not indexed while it streams; indexed once it ends.
        var answer = try await add("elderberry partial", .streaming)
        #expect(try await waiting() == 2, "a streaming answer does not wait")
        answer.content = "elderberry whole"
        answer.status = .complete
        try await messages.update(answer)
        // Deleted while it waits: it only leaves the backlog (the index never had it).
        let doomed = try await add("fig")
        #expect(try await waiting() == 4)
        #expect(try await messages.deleteSubtree(doomed.id, sessionID: session.id))
        #expect(try await waiting() == 3)
        parent = answer.id

        // A search indexes what waits first.
        #expect(try await found("blueberry") == 1)
        #expect(try await waiting() == 0)
        #expect(try await found("apricot") == 0)
        #expect(try await found("cherry") == 0)
        #expect(try await found("damson") == 1)
        #expect(try await found("partial") == 0)
        #expect(try await found("whole") == 1)
        #expect(try await found("fig") == 0)

        // Indexed, then deleted: taken out of the index with the words it was indexed with.
        let gone = try await add("grape")
        #expect(try await messages.indexSearchBacklog() == 1)
        #expect(try await messages.deleteSubtree(gone.id, sessionID: session.id))
        #expect(try await found("grape") == 0)
        // A message that goes back to streaming (an answer continued) leaves the backlog.
        var resumed = try await add("huckleberry")
        resumed.status = .streaming
        try await messages.update(resumed)
        #expect(try await waiting() == 0)
        #expect(try await found("huckleberry") == 0)

        // With every message ended, the index and the table agree row for row and word for
        // word (the check with rank 1 reads every row of the table: a streaming one would fail it).
        resumed.status = .complete
        try await messages.update(resumed)
        #expect(try await found("huckleberry") == 1)
        try await db.executeScript("INSERT INTO messages_search (messages_search, rank) VALUES ('integrity-check', 1)")
        #expect(try await messages.indexSearchBacklog() == 0, "nothing waits: nothing to do")
    }
}
