private import CSQLite
import Glibc
import FoundationEssentials
import QueueExecutor
import Synchronization

/// The embedded database: one SQLite file in WAL mode.
///
/// Every sqlite3 call runs on one serial queue of the database's own (a task executor), never
/// on the cooperative pool. A statement, or a whole transaction with its body, is one trip to
/// that queue and back: the body's statements run there as plain calls, one after another,
/// with no thread switch between them. SQLite has a single writer, so an async lock (taken
/// on the queue) keeps a transaction's BEGIN to COMMIT exclusive even when its body awaits
/// something else in between; other callers queue behind it in order.
///
/// Transactions that queue up behind each other share one commit (group commit): each body
/// runs in a savepoint of one open transaction, and the last of them commits for all. A commit
/// writes every page the transaction changed to the log, with its checksum, and SQLite's
/// full-text index writes a new segment per commit; a burst of sends then pays that once per
/// batch instead of once per send. Every caller still returns only once its changes are
/// committed (or with the commit's error), and a body that fails rolls back only its own
/// savepoint. Anything else (a statement outside a transaction) commits an open batch first.
public final class SQLiteDatabase: SQLDatabase {
    public let dialect = SQLDialect.sqlite
    private let executor = DispatchQueueTaskExecutor(label: "parley.sqlite")
    /// The handle, reached only through the mutex (uncontended: the lock and the serial
    /// queue already order every caller), so the compiler checks it is shared nowhere else.
    private let connection: Mutex<SQLiteConnection>
    private let lock = AsyncLock()
    /// Transactions on their way to the queue: while there are some, a finished body leaves
    /// the batch open for them to join.
    private let queuedTransactions = Atomic<Int>(0)
    /// The open batch, whose members wait for its commit; nil when none is open. Touched only
    /// on the queue holding the lock.
    private let batch = Mutex<BatchCommit?>(nil)
    /// Most bodies in one batch: its first member waits for the last.
    private static let maxBatch = 64

    /// Opens (creating if needed) the database at `path`: WAL journal, 5 s busy timeout,
    /// foreign keys enforced, `synchronous=NORMAL` (durable in WAL mode except on power loss
    /// of the last commits, SQLite's recommended setting for WAL).
    ///
    /// A new file is created with mode 0600 (only its owner may read it: it holds password
    /// hashes and every conversation); SQLite gives its `-wal` and `-shm` files the same mode.
    public init(path: String) throws {
        connection = Mutex(try SQLiteConnection(path: path))
    }

    public func close() async {
        try? await exclusively {
            self.commitBatch()
            self.connection.withLock { $0.close() }
        }
    }

    public func ping() async -> Bool {
        (try? await query("SELECT 1 AS one", [])).map { $0.count == 1 } ?? false
    }

    public func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
        try await exclusively {
            self.commitBatch()
            return try self.run(sql, parameters).rows
        }
    }

    public func execute(_ sql: String, _ parameters: [SQLValue]) async throws -> Int {
        try await exclusively {
            self.commitBatch()
            return try self.run(sql, parameters).changes
        }
    }

    public func executeScript(_ sql: String) async throws {
        try await exclusively {
            self.commitBatch()
            try self.exec(sql)
        }
    }

    public func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        queuedTransactions.add(1, ordering: .relaxed)
        let (result, pending) = try await exclusively { () async throws -> (Result<T, any Error>, BatchCommit?) in
            self.queuedTransactions.subtract(1, ordering: .relaxed)
            let batch: BatchCommit
            if let open = self.batch.withLock({ $0 }) {
                batch = open
            } else {
                // IMMEDIATE takes the write lock now, so two writers never deadlock upgrading from reads.
                try self.control("BEGIN IMMEDIATE")
                batch = BatchCommit()
                self.batch.withLock { $0 = batch }
            }
            let result = await self.inSavepoint(body)
            guard case .success = result else {
                self.commitBatch()  // for the members before it, if none follows
                return (result, nil)
            }
            let members = batch.addMember()
            // Others queued behind: leave the batch open for them, and wait for its commit.
            if self.queuedTransactions.load(ordering: .relaxed) > 0, members < Self.maxBatch { return (result, batch) }
            try self.commitBatch(throwing: true)
            return (result, nil)
        }
        try await pending?.committed()
        return try result.get()
    }

    /// Runs a batch member's body in a savepoint of the open batch: a failure undoes only its own changes.
    private func inSavepoint<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async -> Result<T, any Error> {
        do {
            try control("SAVEPOINT batch_member")
            do {
                let result = try await body(LockedConnection(database: self))
                try control("RELEASE batch_member")
                return .success(result)
            } catch {
                try? control("ROLLBACK TO batch_member")
                try? control("RELEASE batch_member")
                throw error
            }
        } catch {
            return .failure(error)
        }
    }

    /// Commits the open batch, if any, and tells its members how it went; throws the commit's
    /// error when `throwing` (the caller's own changes were in it).
    private func commitBatch(throwing: Bool) throws {
        guard let open = batch.withLock({ batch in defer { batch = nil }; return batch }) else { return }
        do {
            try control("COMMIT")
        } catch {
            try? control("ROLLBACK")
            open.settle(.failure(error))
            if throwing { throw error }
            return
        }
        open.settle(.success(()))
    }

    /// Commits the open batch, if any, before a statement outside it.
    private func commitBatch() {
        try? commitBatch(throwing: false)
    }

    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await exclusively {
            self.commitBatch()
            return try await body(LockedConnection(database: self))
        }
    }

    /// Runs `work` on the database's queue holding the lock. The lock is taken there, so a
    /// waiter handed the lock resumes on the queue directly.
    private func exclusively<T: Sendable>(_ work: () async throws -> T) async throws -> T {
        try await executor.run { try await lock.withLock(work) }
    }

    private func run(_ sql: String, _ parameters: [SQLValue]) throws -> (rows: [SQLRow], changes: Int) {
        executor.preconditionOnQueue()
        return try connection.withLock { try $0.run(sql, parameters) }
    }

    /// A transaction control statement, kept prepared (they run several times a send).
    private func control(_ sql: String) throws {
        _ = try run(sql, [])
    }

    private func exec(_ sql: String) throws {
        executor.preconditionOnQueue()
        try connection.withLock { try $0.exec(sql) }
    }

    /// Statements of a caller that already holds the lock (a transaction's body). They run on
    /// the queue: the body's task prefers that executor, and these calls are nonisolated.
    private struct LockedConnection: SQLConnection {
        let database: SQLiteDatabase

        func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
            try database.run(sql, parameters).rows
        }

        func execute(_ sql: String, _ parameters: [SQLValue]) async throws -> Int {
            try database.run(sql, parameters).changes
        }

        func executeScript(_ sql: String) async throws {
            try database.exec(sql)
        }
    }
}

/// One batch of transactions sharing a commit: its members wait for the outcome.
private final class BatchCommit: Sendable {
    private struct State {
        var outcome: Result<Void, any Error>?
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var members = 0
    }

    private let state = Mutex(State())

    /// Counts one more body that ran in it; returns how many have.
    func addMember() -> Int {
        state.withLock { state in
            state.members += 1
            return state.members
        }
    }

    /// Returns once the batch is committed; throws if its commit failed.
    func committed() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = state.withLock { state -> Result<Void, any Error>? in
                if state.outcome == nil { state.waiters.append(continuation) }
                return state.outcome
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }

    func settle(_ outcome: Result<Void, any Error>) {
        let waiters = state.withLock { state in
            state.outcome = outcome
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(with: outcome) }
    }
}

/// The SQLite handle and its statement cache. Not `Sendable`: `SQLiteDatabase` keeps it in a
/// mutex and calls it only on its queue, because sqlite3 calls block (on the disk, on another
/// process's lock) and the handle is opened without SQLite's own mutex.
final class SQLiteConnection {
    private let handle: OpaquePointer
    private var statements: [String: PreparedStatement] = [:]
    private var closed = false

    /// Opens on the caller's thread: once, at start-up, before anything else uses it.
    init(path: String) throws {
        if path != ":memory:" {
            let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
            if fd >= 0 {
                fchmod(fd, 0o600)
                Glibc.close(fd)
            }
        }
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let status = sqlite3_open_v2(path, &db, flags, nil)
        guard status == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(db)
            throw SQLError(.unavailable, "cannot open SQLite database at \(path): \(message)")
        }
        sqlite3_busy_timeout(db, 5000)
        // temp_store=MEMORY keeps each savepoint's journal (every transaction is one in a shared
        // commit) in memory: on disk it spilled to a temporary file, about sixty writes a send.
        for pragma in ["PRAGMA journal_mode=WAL", "PRAGMA foreign_keys=ON", "PRAGMA synchronous=NORMAL", "PRAGMA temp_store=MEMORY"] {
            guard sqlite3_exec(db, pragma, nil, nil, nil) == SQLITE_OK else {
                let message = String(cString: sqlite3_errmsg(db))
                sqlite3_close(db)
                throw SQLError(.unavailable, "cannot configure SQLite (\(pragma)): \(message)")
            }
        }
        handle = db
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement.handle) }
        if !closed { sqlite3_close(handle) }
    }

    func close() {
        for statement in statements.values { sqlite3_finalize(statement.handle) }
        statements = [:]
        if !closed { sqlite3_close(handle) }
        closed = true
    }

    func exec(_ sql: String) throws {
        guard !closed else { throw SQLError(.unavailable, "the database is closed") }
        let status = sqlite3_exec(handle, sql, nil, nil, nil)
        guard status == SQLITE_OK else { throw error(status) }
    }

    /// At most this many statements kept prepared: the repositories' statements are a fixed
    /// set, but a search's text varies with its terms.
    private static let maxPrepared = 256

    /// The statement for `sql`, and whether it is kept (otherwise the caller finalizes it).
    private func prepared(_ sql: String) throws -> (statement: PreparedStatement, kept: Bool) {
        guard !closed else { throw SQLError(.unavailable, "the database is closed") }
        if let statement = statements[sql] { return (statement, true) }
        var handle: OpaquePointer?
        let status = sqlite3_prepare_v2(self.handle, sql, -1, &handle, nil)
        guard status == SQLITE_OK, let handle else { throw error(status) }
        let statement = PreparedStatement(handle)
        guard statements.count < Self.maxPrepared else { return (statement, false) }
        statements[sql] = statement
        return (statement, true)
    }

    func run(_ sql: String, _ parameters: [SQLValue]) throws -> (rows: [SQLRow], changes: Int) {
        let (prepared, kept) = try prepared(sql)
        let statement = prepared.handle
        defer {
            if kept {
                sqlite3_reset(statement)
                sqlite3_clear_bindings(statement)
            } else {
                sqlite3_finalize(statement)
            }
        }
        for (i, value) in parameters.enumerated() {
            guard i < prepared.parameterIndexes.count else { break }
            let index = prepared.parameterIndexes[i]
            guard index > 0 else { continue }
            let status: Int32
            switch value {
            // With its length, so a NUL inside the text cannot end it early.
            case .text(let text): status = sqlite3_bind_text(statement, index, text, Int32(text.utf8.count), parley_sqlite_transient())
            case .integer(let n): status = sqlite3_bind_int64(statement, index, Int64(n))
            case .null: status = sqlite3_bind_null(statement, index)
            }
            guard status == SQLITE_OK else { throw error(status) }
        }
        let names = prepared.columnNames
        let count = names.count
        var rows: [SQLRow] = []
        while true {
            let status = sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw error(status) }
            var values: [String?] = []
            values.reserveCapacity(count)
            for column in 0..<Int32(count) {
                if sqlite3_column_type(statement, column) == SQLITE_NULL {
                    values.append(nil)
                } else if let text = sqlite3_column_text(statement, column) {
                    let length = Int(sqlite3_column_bytes(statement, column))
                    values.append(String(decoding: UnsafeBufferPointer(start: text, count: length), as: UTF8.self))
                } else {
                    values.append(nil)
                }
            }
            rows.append(SQLRow(columns: names, values: values))
        }
        return (rows, Int(sqlite3_changes(handle)))
    }

    private func error(_ status: Int32) -> SQLError {
        let extended = sqlite3_extended_errcode(handle)
        let message = String(cString: sqlite3_errmsg(handle))
        // Extended result codes are composite macros Swift cannot import (sqlite3.h:
        // SQLITE_CONSTRAINT | (n << 8)); their values are part of SQLite's stable ABI.
        let constraintUnique: Int32 = 19 | (8 << 8), constraintPrimaryKey: Int32 = 19 | (6 << 8)
        let constraintForeignKey: Int32 = 19 | (3 << 8)
        switch extended {
        case constraintUnique, constraintPrimaryKey: return SQLError(.uniqueViolation, message)
        case constraintForeignKey: return SQLError(.foreignKeyViolation, message)
        default:
            // Busy or locked, read-only, disk full, I/O trouble: the database cannot take this
            // now, and may later.
            let primary = status & 0xFF
            if [SQLITE_BUSY, SQLITE_LOCKED, SQLITE_READONLY, SQLITE_FULL, SQLITE_IOERR, SQLITE_CANTOPEN].contains(primary) {
                return SQLError(.unavailable, "SQLite (code \(extended)): \(message)")
            }
            return SQLError(.other, message)
        }
    }
}

/// A prepared statement with what running it needs, read once when it is prepared: which of
/// SQLite's parameters each `$n` is, and the names of its columns. `$n` parameters are named
/// in SQLite (so the text of a query written for PostgreSQL works unchanged), and looking a
/// name up scans the statement's names; the repositories' statements run thousands of times.
/// The schema does not change while statements are cached (migrations run before).
final class PreparedStatement {
    let handle: OpaquePointer
    /// SQLite's index of `$1`, `$2`, …; 0 for a number the statement does not use.
    let parameterIndexes: [Int32]
    let columnNames: [String]

    init(_ handle: OpaquePointer) {
        self.handle = handle
        var indexes: [Int32] = []
        for index in 1...max(1, sqlite3_bind_parameter_count(handle)) {
            guard let name = sqlite3_bind_parameter_name(handle, index), name.pointee == UInt8(ascii: "$"),
                  let number = Int(String(cString: name + 1)), number > 0, number <= 1000 else { continue }
            if indexes.count < number { indexes += Array(repeating: 0, count: number - indexes.count) }
            indexes[number - 1] = index
        }
        parameterIndexes = indexes
        columnNames = (0..<sqlite3_column_count(handle)).map { String(cString: sqlite3_column_name(handle, $0)) }
    }
}
