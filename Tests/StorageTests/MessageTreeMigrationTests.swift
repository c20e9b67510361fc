import ChatCore
import Foundation
import Storage
import StorageTesting
import Testing

/// Sessions from before messages were a tree become one path each, in position order, ending
/// at their last message: today's clients see the same history (and search finds it).
@Suite(.timeLimit(.minutes(2))) struct MessageTreeMigrationTests {
    /// A copy of the repository's migrations before the tree (0001–0004).
    static func migrationsBeforeTheTree() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-migrations-\(UUID().uuidString)")
        for dialect in ["sqlite", "postgres"] {
            let target = folder.appendingPathComponent(dialect)
            try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
            let source = URL(fileURLWithPath: migrationsDirectory).appendingPathComponent(dialect)
            for name in try FileManager.default.contentsOfDirectory(atPath: source.path) where name < "0005" {
                try FileManager.default.copyItem(at: source.appendingPathComponent(name), to: target.appendingPathComponent(name))
            }
        }
        return folder.path
    }

    @Test(arguments: TestBackend.available)
    func existingSessionsBecomeOnePath(_ backend: TestBackend) async throws {
        let before = try Self.migrationsBeforeTheTree()
        defer { try? FileManager.default.removeItem(atPath: before) }
        guard let db = try await backend.makeDatabase(migrations: before) else { return }
        let user = UUID().uuidString.lowercased(), full = UUID().uuidString.lowercased(), empty = UUID().uuidString.lowercased()
        let t = "2026-01-01T00:00:00.000Z"
        _ = try await db.execute("INSERT INTO users (id, email, password_hash, role, active, created_at) VALUES ($1, 'ann@example.org', 'x', 'user', $3, $2)",
                                 [.text(user), .text(t), .bool(true)])
        for session in [full, empty] {
            _ = try await db.execute("INSERT INTO chat_sessions (id, owner_id, title, model, created_at, updated_at) VALUES ($1, $2, 'Old', 'mock', $3, $3)",
                                     [.text(session), .text(user), .text(t)])
        }
        var ids: [String] = []
        // Inserted out of order: the positions, not the insertion, make the path.
        for position in [3, 1, 4, 2] {
            let id = UUID().uuidString.lowercased()
            ids.append(id)
            _ = try await db.execute(
                "INSERT INTO messages (id, session_id, position, role, content, status, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'complete', $6, $6)",
                [.text(id), .text(full), .integer(position), .text(position % 2 == 1 ? "user" : "assistant"), .text("m\(position)"), .text(t)])
        }
        try await Migrator(database: db, directory: migrationsDirectory).migrate()

        let sessionID = try #require(ChatSession.ID(full))
        let messages = SQLMessageRepository(database: db)
        let path = try await messages.path(to: nil, sessionID: sessionID, count: nil)
        #expect(path.map(\.content) == ["m1", "m2", "m3", "m4"])
        #expect(path.map(\.depth) == [0, 1, 2, 3])
        #expect(path.first?.parentID == nil)
        #expect(zip(path.dropFirst(), path).allSatisfy { $0.parentID == $1.id })
        let page = try await messages.list(sessionID: sessionID, limit: 10, cursor: nil)
        #expect(page.items.map(\.message.content) == ["m4", "m3", "m2", "m1"])
        #expect(page.items.allSatisfy { $0.siblings == 1 && $0.siblingIndex == 0 })
        let sessions = SQLChatSessionRepository(database: db)
        #expect(try await sessions.find(id: sessionID, ownerID: try #require(User.ID(user)))?.activeLeafID == path.last?.id)
        #expect(try await sessions.find(id: try #require(ChatSession.ID(empty)), ownerID: try #require(User.ID(user)))?.activeLeafID == nil)
        // Messages from before the search index (0007) are found.
        let hits = try await messages.search(SearchQuery(terms: ["m3"]), ownerID: try #require(User.ID(user)), limit: 10, cursor: nil)
        #expect(hits.items.map(\.snippet) == ["m3"])
        await db.close()
    }
}
