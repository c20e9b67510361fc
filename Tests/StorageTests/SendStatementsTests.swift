import ChatCore
import Coordination
import Foundation
import Logging
import Storage
import StorageTesting
import Synchronization
import Testing

/// What a send costs the database before the upstream is called, counted on SQLite and
/// PostgreSQL: a plain send is three statements in one transaction (two on PostgreSQL), and
/// one read of the path when the question has a history; the end of a turn is one commit.
@Suite(.timeLimit(.minutes(2))) struct SendStatementsTests {
    /// Counts the statements and transactions that reach a database.
    final class Counter: Sendable {
        let counts = Mutex((statements: 0, transactions: 0, log: [String]()))
        func statement(_ sql: String) { counts.withLock { $0.statements += 1; $0.log.append(String(sql.prefix(60))) } }
        func transaction() { counts.withLock { $0.transactions += 1 } }
        var snapshot: (statements: Int, transactions: Int, log: [String]) { counts.withLock { $0 } }
        func reset() { counts.withLock { $0 = (0, 0, []) } }
    }

    struct CountingConnection: SQLConnection {
        let inner: any SQLConnection
        let counter: Counter
        func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
            counter.statement(sql)
            return try await inner.query(sql, parameters)
        }
        func execute(_ sql: String, _ parameters: [SQLValue]) async throws -> Int {
            counter.statement(sql)
            return try await inner.execute(sql, parameters)
        }
        func executeScript(_ sql: String) async throws {
            counter.statement(sql)
            try await inner.executeScript(sql)
        }
    }

    struct CountingDatabase: SQLDatabase {
        let inner: any SQLDatabase
        let counter: Counter
        var dialect: SQLDialect { inner.dialect }
        func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
            try await CountingConnection(inner: inner, counter: counter).query(sql, parameters)
        }
        func execute(_ sql: String, _ parameters: [SQLValue]) async throws -> Int {
            try await CountingConnection(inner: inner, counter: counter).execute(sql, parameters)
        }
        func executeScript(_ sql: String) async throws {
            try await CountingConnection(inner: inner, counter: counter).executeScript(sql)
        }
        func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
            counter.transaction()
            let counter = self.counter
            return try await inner.transaction { connection in try await body(CountingConnection(inner: connection, counter: counter)) }
        }
        func withConnection<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
            let counter = self.counter
            return try await inner.withConnection { connection in try await body(CountingConnection(inner: connection, counter: counter)) }
        }
        func ping() async -> Bool { await inner.ping() }
        func close() async { await inner.close() }
    }

    /// Answers "ok" at once, noting what the database had done when it was called.
    final class Provider: ChatProvider {
        let counter: Counter
        let seen = Mutex([(statements: Int, transactions: Int, log: [String])]())
        init(counter: Counter) { self.counter = counter }
        var models: [ModelInfo] { [ModelInfo(id: "mock", provider: "test")] }
        func complete(_ request: CompletionRequest) -> AsyncThrowingStream<CompletionEvent, any Error> {
            let snapshot = counter.snapshot
            seen.withLock { $0.append(snapshot) }
            return AsyncThrowingStream { continuation in
                continuation.yield(.delta("ok"))
                continuation.yield(.usage(TokenUsage(promptTokens: 3, completionTokens: 1)))
                continuation.yield(.finished(reason: "stop"))
                continuation.finish()
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func aSendIsFourStatementsAndOneCommitBeforeTheUpstream(_ backend: TestBackend) async throws {
        guard let raw = try await backend.makeDatabase() else { return }
        let counter = Counter()
        let database = CountingDatabase(inner: raw, counter: counter)
        let provider = Provider(counter: counter)
        let chat = ChatDependencies(sessions: SQLChatSessionRepository(database: database), messages: SQLMessageRepository(database: database),
                                    projects: SQLProjectRepository(database: database), models: ["mock"])
        var logger = Logger(label: "test.statements")
        logger.logLevel = .critical
        let turns = TurnDependencies(chat: chat, store: SQLTurnRepository(database: database), usage: SQLUsageRepository(database: database),
                                     provider: provider, settings: ChatSettings(), limiter: InProcessRateLimiter(), policy: .unlimited, logger: logger)
        let user = User(id: User.ID(UUID()), email: EmailAddress(trusted: "count@example.org"), passwordHash: "x", role: .user, createdAt: Date())
        try await SQLUserRepository(database: raw).create(user)
        let principal = Principal(user: user, credential: .accessToken)
        let session = try await CreateSession(chat)(principal, title: nil, model: nil, projectID: nil, systemPrompt: nil)

        for (index, text) in ["first", "second"].enumerated() {
            counter.reset()
            var ticket = try await SendMessage(turns)(principal, sessionID: session.id, SendMessageCommand(content: text))
            while true {
                if case .ended = await ticket.follower.next() { break }
            }
            let before = try #require(provider.seen.withLock { $0.last })
            // The first message is the whole path; a later one reads its history.
            // Statements as the repositories issue them (a transaction's BEGIN and COMMIT are the
            // database's own): three in the transaction (two on PostgreSQL, where the messages
            // and the session's update are one statement), and the path read for a later message.
            let inTransaction = raw.dialect == .postgres ? 2 : 3
            #expect(before.statements == (index == 0 ? inTransaction : inTransaction + 1), "\(before.log)")
            #expect(before.transactions == 1, "\(before.log)")
            // The end of the turn: one commit, of a transaction of two statements on SQLite and
            // of one statement on PostgreSQL.
            let (endTransactions, endStatements) = raw.dialect == .postgres ? (1, 1) : (2, 2)
            for _ in 0..<200 where counter.snapshot.statements - before.statements < endStatements { try await Task.sleep(for: .milliseconds(10)) }
            try await Task.sleep(for: .milliseconds(50))
            let after = counter.snapshot
            #expect(after.transactions == endTransactions && after.statements - before.statements == endStatements, "the end: \(after.log)")
        }
        await turns.registry.shutdown(gracePeriod: .seconds(1))
        await raw.close()
    }
}
