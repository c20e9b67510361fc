import Foundation
import Storage
import Synchronization
import Testing

/// Transactions that queue up behind each other share one commit: each still returns only
/// once its changes are committed, and a body that fails takes only its own changes with it.
@Suite(.timeLimit(.minutes(5))) struct SQLiteGroupCommitTests {
    static func databases() async throws -> (writer: SQLiteDatabase, reader: SQLiteDatabase) {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("parley-group-\(UUID().uuidString).db").path
        let writer = try SQLiteDatabase(path: path)
        try await writer.executeScript("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT NOT NULL UNIQUE)")
        // A second connection sees only what is committed.
        return (writer, try SQLiteDatabase(path: path))
    }

    @Test func everyTransactionReturnsCommittedAndAFailedOneTakesOnlyItsOwnChanges() async throws {
        let (writer, reader) = try await Self.databases()
        let outcomes = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
            for n in 0..<200 {
                group.addTask {
                    do {
                        try await writer.transaction { connection in
                            _ = try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("note \(n)")])
                            _ = try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("extra \(n)")])
                            // Every seventh fails after its writes: they must not be kept.
                            if n % 7 == 0 { _ = try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("note \(n)")]) }
                        }
                    } catch {
                        return (n, false)
                    }
                    // Returned: committed, so the other connection sees it at once.
                    let seen = try await reader.query("SELECT count(*) AS n FROM notes WHERE body IN ($1, $2)", [.text("note \(n)"), .text("extra \(n)")])
                    #expect(try seen.first?.int("n") == 2, "transaction \(n) returned before its commit")
                    return (n, true)
                }
            }
            return try await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.count == 200)
        for (n, committed) in outcomes { #expect(committed == (n % 7 != 0), "transaction \(n)") }
        let rows = try await reader.query("SELECT body FROM notes ORDER BY id", [])
        let bodies = Set(try rows.map { try $0.string("body") })
        let expected = Set((0..<200).filter { $0 % 7 != 0 }.flatMap { ["note \($0)", "extra \($0)"] })
        #expect(bodies == expected)
        #expect(rows.count == expected.count)
    }

    @Test func aStatementOutsideAfterABatchSeesItCommitted() async throws {
        let (writer, reader) = try await Self.databases()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for n in 0..<50 {
                group.addTask {
                    if n % 2 == 0 {
                        try await writer.transaction { _ = try await $0.execute("INSERT INTO notes (body) VALUES ($1)", [.text("t\(n)")]) }
                    } else {
                        _ = try await writer.execute("INSERT INTO notes (body) VALUES ($1)", [.text("s\(n)")])
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(try await reader.query("SELECT count(*) AS n FROM notes", []).first?.int("n") == 50)
        #expect(try await writer.query("SELECT count(*) AS n FROM notes", []).first?.int("n") == 50)
    }
}
