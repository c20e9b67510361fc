public import Logging
import QueueExecutor
import Synchronization

/// PostgreSQL through libpq, with a connection pool.
public final class PostgresDatabase: SQLDatabase {
    public let dialect = SQLDialect.postgres
    private let pool: PostgresPool
    private let size: Int
    private let leased = Atomic<Int>(0)

    public var poolUsage: (inUse: Int, size: Int)? { (leased.load(ordering: .relaxed), size) }

    /// Opens one connection at once, so a wrong URL or an unreachable server fails start-up
    /// with a clear message instead of at the first request.
    public init(url: String, poolSize: Int = 10, acquireTimeout: Duration = .seconds(5), logger: Logger? = nil) async throws {
        pool = PostgresPool(url: url, size: poolSize, acquireTimeout: acquireTimeout)
        size = poolSize
        let first = try await pool.acquire()
        await pool.release(first, broken: false)
    }

    /// A read whose connection turned out dead (a restart, a killed backend) is tried once
    /// more on a fresh one: the failure already made the pool drop every older connection.
    public func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
        do {
            return try await withConnection { try await $0.query(sql, parameters) }
        } catch let error as SQLError where error.connectionLost && Self.isRead(sql) {
            return try await withConnection { try await $0.query(sql, parameters) }
        }
    }

    /// A statement that only reads (a plain `SELECT`, as every read of the repositories is),
    /// so running it twice cannot do anything twice.
    static func isRead(_ sql: String) -> Bool {
        sql.prefix { $0 != " " && $0 != "\n" }.uppercased() == "SELECT"
    }

    public func execute(_ sql: String, _ parameters: [SQLValue]) async throws -> Int {
        try await withConnection { try await $0.execute(sql, parameters) }
    }

    public func executeScript(_ sql: String) async throws {
        try await withConnection { try await $0.executeScript(sql) }
    }

    /// Leases a connection and runs `body` on that connection's queue, so its statements (a
    /// whole transaction) need no thread switch each. An idle connection the server closed
    /// meanwhile (a restart) is found out before `body` runs and another one is taken.
    public func withConnection<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await withLeased { try await body(Leased(connection: $0, opensTransaction: false)) }
    }

    private func withLeased<T: Sendable>(_ body: @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        leased.add(1, ordering: .relaxed)
        defer { leased.subtract(1, ordering: .relaxed) }
        // Every idle connection may be dead (the release of a dead one drops the older ones
        // too), so one more than the pool holds always reaches a fresh connection.
        for _ in 0...size {
            let connection = try await pool.acquire()
            let (outcome, broken) = await connection.executor.run {
                () async -> (Result<T, any Error>?, Bool) in
                guard await connection.isHealthy() else { return (nil, true) }
                do {
                    let result = try await body(connection)
                    return (.success(result), await connection.isBroken())
                } catch {
                    return (.failure(error), await connection.isBroken())
                }
            }
            await pool.release(connection, broken: broken)
            if let outcome { return try outcome.get() }
        }
        throw SQLError(.unavailable, "no PostgreSQL connection could be had in a usable state", connectionLost: true)
    }

    /// `BEGIN` goes with the body's first statement, in the same round trip; a body that runs
    /// no statement opens no transaction.
    public func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T {
        try await withLeased { connection in
            let leased = Leased(connection: connection, opensTransaction: true)
            do {
                let result = try await body(leased)
                if leased.begun { try await connection.script("COMMIT") }
                return result
            } catch {
                if leased.begun { try? await connection.script("ROLLBACK") }
                throw error
            }
        }
    }

    public func ping() async -> Bool {
        (try? await query("SELECT 1 AS one", []).count) == 1
    }

    public func close() async {
        await pool.close()
    }

    /// A leased connection. One that opens a transaction sends its `BEGIN` with the first
    /// statement, in the same round trip.
    private final class Leased: SQLConnection {
        let connection: PostgresConnection
        /// Whether a `BEGIN` is still to be sent. Statements run one after another on the
        /// connection's queue; the mutex only satisfies `Sendable`.
        private let beginPending: Mutex<Bool>
        private let opensTransaction: Bool

        init(connection: PostgresConnection, opensTransaction: Bool) {
            self.connection = connection
            self.opensTransaction = opensTransaction
            beginPending = Mutex(opensTransaction)
        }

        /// Whether this transaction's `BEGIN` was sent.
        var begun: Bool { opensTransaction && !beginPending.withLock { $0 } }

        private func takeBegin() -> Bool {
            beginPending.withLock { pending in
                defer { pending = false }
                return pending
            }
        }

        private func run(_ sql: String, _ parameters: [SQLValue]) async throws -> PostgresConnection.Outcome {
            takeBegin() ? try await connection.runAfterBegin(sql, parameters) : try await connection.run(sql, parameters)
        }

        func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow] {
            try await run(sql, parameters).rows
        }

        func execute(_ sql: String, _ parameters: [SQLValue]) async throws -> Int {
            try await run(sql, parameters).changes
        }

        func executeScript(_ sql: String) async throws {
            if takeBegin() { try await connection.script("BEGIN") }
            try await connection.script(sql)
        }
    }
}
