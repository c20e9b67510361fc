private import CPostgres
#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import QueueExecutor

/// One libpq connection, an actor whose executor is a serial queue of its own: libpq's calls
/// block, so they run there and never on the cooperative pool, and the compiler checks that
/// the handle is touched nowhere else.
actor PostgresConnection {
    private let executor: DispatchQueueExecutor
    nonisolated var unownedExecutor: UnownedSerialExecutor { executor.asUnownedSerialExecutor() }
    private var handle: OpaquePointer?
    /// When it was opened: after a failure the pool discards idle connections older than it.
    nonisolated let openedAt = ContinuousClock.now

    private init(executor: DispatchQueueExecutor) {
        self.executor = executor
    }

    isolated deinit {
        if let handle { PQfinish(handle) }
    }

    /// Connects (on its own queue) and sets the session to UTC so timestamps read back alike.
    static func connect(url: String, label: String) async throws -> PostgresConnection {
        let connection = PostgresConnection(executor: DispatchQueueExecutor(label: label))
        try await connection.open(url)
        return connection
    }

    private func open(_ url: String) throws {
        guard let conn = PQconnectdb(url) else { throw SQLError(.unavailable, "cannot allocate a PostgreSQL connection") }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.firstLine(PQerrorMessage(conn))
            PQfinish(conn)
            throw SQLError(.unavailable, "cannot connect to PostgreSQL: \(message)")
        }
        // Notices (a search of stop words only, say) are the server talking to a person at a
        // console; libpq would print them on stderr, between the server's structured logs.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        PQclear(PQexec(conn, "SET TIME ZONE 'UTC'"))
        handle = conn
    }

    /// Whether the connection still looks usable, checked without a round trip: reading what
    /// the server sent notices a closed socket (a restarted server) at once.
    func isHealthy() -> Bool {
        guard let handle else { return false }
        return PQconsumeInput(handle) == 1 && PQstatus(handle) == CONNECTION_OK
    }

    func isBroken() -> Bool {
        handle.map { PQstatus($0) != CONNECTION_OK } ?? true
    }

    func close() {
        if let handle { PQfinish(handle) }
        handle = nil
    }

    struct Outcome: Sendable {
        let rows: [SQLRow]
        let changes: Int
    }

    func run(_ sql: String, _ parameters: [SQLValue]) throws -> Outcome {
        guard let handle else { throw SQLError(.unavailable, "the connection is closed") }
        // Every value travels as text; PostgreSQL infers each parameter's type from its use.
        let texts: [String?] = parameters.map {
            switch $0 {
            case .text(let s): s
            case .integer(let n): String(n)
            case .null: nil
            }
        }
        let cStrings = texts.map { $0.flatMap { strdup($0) } }
        defer { cStrings.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = cStrings.map { $0.map { UnsafePointer($0) } }
        let result = pointers.withUnsafeBufferPointer { values in
            PQexecParams(handle, sql, Int32(values.count), nil, values.baseAddress, nil, nil, 0)
        }
        defer { PQclear(result) }
        try check(result, handle)
        let rowCount = Int(PQntuples(result)), columnCount = Int(PQnfields(result))
        let names = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var rows: [SQLRow] = []
        rows.reserveCapacity(rowCount)
        for r in 0..<Int32(rowCount) {
            var values: [String?] = []
            values.reserveCapacity(columnCount)
            for c in 0..<Int32(columnCount) {
                values.append(PQgetisnull(result, r, c) == 1 ? nil : String(cString: PQgetvalue(result, r, c)))
            }
            rows.append(SQLRow(columns: names, values: values))
        }
        let changes = Int(String(cString: PQcmdTuples(result))) ?? 0
        return Outcome(rows: rows, changes: changes)
    }

    func script(_ sql: String) throws {
        guard let handle else { throw SQLError(.unavailable, "the connection is closed") }
        let result = PQexec(handle, sql)
        defer { PQclear(result) }
        try check(result, handle)
    }

    /// Turns a failed result into an `SQLError` classified by SQLSTATE (Appendix A of the manual).
    private func check(_ result: OpaquePointer?, _ handle: OpaquePointer) throws {
        let status = result.map { PQresultStatus($0) } ?? PGRES_FATAL_ERROR
        if status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK || status == PGRES_EMPTY_QUERY { return }
        let sqlState = result.flatMap { PQresultErrorField($0, Int32(UInt8(ascii: "C"))) }.map { String(cString: $0) } ?? ""
        let message = Self.firstLine(result.map { PQresultErrorMessage($0) } ?? PQerrorMessage(handle))
        let lost = PQstatus(handle) != CONNECTION_OK || sqlState.hasPrefix("08") || sqlState.hasPrefix("57P")
        if lost { throw SQLError(.unavailable, "PostgreSQL connection lost (SQLSTATE \(sqlState.isEmpty ? "none" : sqlState)): \(message)", connectionLost: true) }
        // Classes a retry later may get past: insufficient resources (53), operator
        // intervention (57), a read-only database (25006).
        if sqlState.hasPrefix("53") || sqlState.hasPrefix("57") || sqlState == "25006" {
            throw SQLError(.unavailable, "PostgreSQL cannot serve this now (SQLSTATE \(sqlState)): \(message)")
        }
        switch sqlState {
        case "23505": throw SQLError(.uniqueViolation, message)
        case "23503": throw SQLError(.foreignKeyViolation, message)
        default: throw SQLError(.other, "\(sqlState) \(message)")
        }
    }

    private static func firstLine(_ text: UnsafePointer<CChar>?) -> String {
        guard let text else { return "unknown error" }
        return String(cString: text).split(separator: "\n").first.map(String.init) ?? "unknown error"
    }
}
