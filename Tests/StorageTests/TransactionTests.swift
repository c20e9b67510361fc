import Foundation
import Storage
import StorageTesting
import Testing

/// A transaction on every database: all of its statements or none. On PostgreSQL `BEGIN`
/// travels with the first statement (pipelined once that statement is prepared on the
/// connection), so these run each body several times: the first time the statement is
/// prepared there, later ones take the pipelined path.
@Suite(.timeLimit(.minutes(2))) struct TransactionTests {
    struct Refused: Error {}

    static func notes(_ backend: TestBackend) async throws -> (any SQLDatabase)? {
        guard let db = try await backend.makeDatabase() else { return nil }
        try await db.executeScript("CREATE TABLE notes (body TEXT PRIMARY KEY)")
        return db
    }

    static func count(_ db: any SQLDatabase) async throws -> Int {
        try await db.query("SELECT count(*) AS n FROM notes", []).first?.int("n") ?? -1
    }

    @Test(arguments: TestBackend.available)
    func aBodyThatFailsAfterItsFirstStatementLeavesNothing(_ backend: TestBackend) async throws {
        guard let db = try await Self.notes(backend) else { return }
        for round in 0..<4 {
            await #expect(throws: Refused.self) {
                try await db.transaction { connection in
                    _ = try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("kept? \(round)")])
                    throw Refused()
                }
            }
            #expect(try await Self.count(db) == 0, "round \(round): the first statement ran outside the transaction")
        }
        await db.close()
    }

    @Test(arguments: TestBackend.available)
    func aFirstStatementThatFailsEndsTheTransactionAndTheConnectionServesOn(_ backend: TestBackend) async throws {
        guard let db = try await Self.notes(backend) else { return }
        _ = try await db.execute("INSERT INTO notes (body) VALUES ($1)", [.text("taken")])
        for round in 0..<4 {
            do {
                try await db.transaction { connection in
                    _ = try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("taken")])
                }
                Issue.record("round \(round): a duplicate was inserted")
            } catch let error as SQLError {
                #expect(error.kind == .uniqueViolation, "round \(round): \(error)")
            }
            // Every connection of the pool is still usable, outside and inside transactions.
            let written = try await db.transaction { connection in
                try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("round \(round)")])
            }
            #expect(written == 1)
            #expect(try await Self.count(db) == round + 2)
        }
        await db.close()
    }

    @Test(arguments: TestBackend.available)
    func aTransactionOfSeveralStatementsCommitsThemAllAndReturnsWhatItsBodyReturns(_ backend: TestBackend) async throws {
        guard let db = try await Self.notes(backend) else { return }
        for round in 0..<4 {
            let seen = try await db.transaction { connection in
                let before = try await connection.query("SELECT count(*) AS n FROM notes", []).first?.int("n") ?? -1
                _ = try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("a\(round)")])
                _ = try await connection.execute("INSERT INTO notes (body) VALUES ($1)", [.text("b\(round)")])
                return before
            }
            #expect(seen == round * 2)
        }
        #expect(try await Self.count(db) == 8)
        // A body that runs no statement returns its value and leaves the connection as it was.
        #expect(try await db.transaction { _ in 42 } == 42)
        #expect(try await Self.count(db) == 8)
        await db.close()
    }
}
