private import CPostgres
#if canImport(Glibc)
import Glibc
#endif
import FoundationEssentials
import QueueExecutor
import Synchronization

/// One libpq connection and the serial queue its calls run on (a task executor): libpq's calls
/// block, so they never run on the cooperative pool. The pool leases a connection to one
/// caller at a time, who runs its statements, or a whole transaction, on that queue
/// (`PostgresDatabase.withConnection`): its calls here then need no thread switch. The handle
/// sits in a mutex (uncontended: one lessee at a time), so the compiler checks it is shared
/// nowhere else.
final class PostgresConnection: Sendable {
    let executor: DispatchQueueTaskExecutor
    private let state = Mutex(State())

    /// The libpq handle and the statements prepared on it.
    private struct State {
        var handle: OpaquePointer?
        /// Statement names by SQL text. Each statement is parsed once per connection, and
        /// PostgreSQL may keep a generic plan for it, rather than parsing and planning its
        /// text on every call (planning a recursive path read costs more than running it).
        var prepared: [String: String] = [:]
    }

    /// At most this many prepared statements per connection: the repositories' statements
    /// are a fixed set, but a search's text varies with its terms.
    private static let maxPrepared = 256
    /// When it was opened: after a failure the pool discards idle connections older than it.
    let openedAt = ContinuousClock.now

    private init(executor: DispatchQueueTaskExecutor) {
        self.executor = executor
    }

    deinit {
        state.withLock { if let handle = $0.handle { PQfinish(handle) } }
    }

    /// Connects (on its own queue) and sets the session to UTC so timestamps read back alike.
    static func connect(url: String, label: String) async throws -> PostgresConnection {
        let connection = PostgresConnection(executor: DispatchQueueTaskExecutor(label: label))
        try await connection.onQueue { $0.handle = try Self.open(url) }
        return connection
    }

    /// Runs `work` with the handle on the connection's queue: a hop there, unless the caller
    /// already runs on it (a leased connection's statements).
    private func onQueue<T: Sendable>(_ work: (inout State) throws -> T) async throws -> T {
        try await executor.run {
            executor.preconditionOnQueue()
            return try state.withLock { try work(&$0) }
        }
    }

    /// How long a connection may take to be established, unless the URL says otherwise. libpq's
    /// default is to wait for good, and a server that accepted the connection and then answers
    /// nothing (stopped, or behind a partition) would hold a request, or start-up, forever.
    static let defaultConnectTimeout = "10"

    private static func open(_ url: String) throws -> OpaquePointer {
        // Keywords apply in order, and the URL (expanded from `dbname`) comes last, so its own
        // `connect_timeout` wins over the default.
        // Both lists end with a null pointer.
        let connection = withCStrings(["connect_timeout", "dbname", nil]) { keywords in
            withCStrings([defaultConnectTimeout, url, nil]) { values in PQconnectdbParams(keywords.baseAddress, values.baseAddress, 1) }
        }
        guard let conn = connection else {
            throw SQLError(.unavailable, "cannot allocate a PostgreSQL connection")
        }
        guard PQstatus(conn) == CONNECTION_OK else {
            let message = Self.firstLine(PQerrorMessage(conn))
            PQfinish(conn)
            throw SQLError(.unavailable, "cannot connect to PostgreSQL: \(message)")
        }
        // Notices (a search of stop words only, say) are the server talking to a person at a
        // console; libpq would print them on stderr, between the server's structured logs.
        PQsetNoticeProcessor(conn, { _, _ in }, nil)
        PQclear(PQexec(conn, "SET TIME ZONE 'UTC'"))
        return conn
    }

    /// Whether the connection still looks usable, checked without a round trip: reading what
    /// the server sent notices a closed socket (a restarted server) at once.
    func isHealthy() async -> Bool {
        (try? await onQueue { state in
            guard let handle = state.handle else { return false }
            return PQconsumeInput(handle) == 1 && PQstatus(handle) == CONNECTION_OK
        }) ?? false
    }

    func isBroken() async -> Bool {
        (try? await onQueue { state in state.handle.map { PQstatus($0) != CONNECTION_OK } ?? true }) ?? true
    }

    func close() async {
        try? await onQueue { state in
            if let handle = state.handle { PQfinish(handle) }
            state = State()
        }
    }

    struct Outcome: Sendable {
        let rows: [SQLRow]
        let changes: Int
    }

    func run(_ sql: String, _ parameters: [SQLValue]) async throws -> Outcome {
        try await onQueue { state in
            guard let handle = state.handle else { throw SQLError(.unavailable, "the connection is closed") }
            return try Self.run(sql, parameters, on: handle, prepared: &state.prepared)
        }
    }

    /// `BEGIN` and then `sql`, in one round trip once `sql` is prepared on this connection
    /// (libpq's pipeline mode: both sent, then one sync); one after the other before that.
    /// A transaction's first statement goes this way, so opening it costs no wait of its own.
    func runAfterBegin(_ sql: String, _ parameters: [SQLValue]) async throws -> Outcome {
        try await onQueue { state in
            guard let handle = state.handle else { throw SQLError(.unavailable, "the connection is closed") }
            guard let name = state.prepared[sql] else {
                let begun = PQexec(handle, "BEGIN")
                defer { PQclear(begun) }
                try Self.check(begun, handle)
                return try Self.run(sql, parameters, on: handle, prepared: &state.prepared)
            }
            return try Self.withValues(parameters) { values in
                guard PQenterPipelineMode(handle) == 1 else { throw Self.sendFailure(handle) }
                // Leaves pipeline mode whatever happens below (every result is read first); a
                // connection that cannot has lost its place in the protocol and is closed, so
                // the pool discards it.
                defer {
                    if PQexitPipelineMode(handle) != 1 {
                        PQfinish(handle)
                        state.handle = nil
                    }
                }
                guard PQsendQueryParams(handle, "BEGIN", 0, nil, nil, nil, nil, 0) == 1,
                      PQsendQueryPrepared(handle, name, Int32(values.count), values.baseAddress, nil, nil, 0) == 1,
                      PQpipelineSync(handle) == 1 else {
                    throw Self.sendFailure(handle)
                }
                // Each statement's result is followed by a null; the sync's result ends it all.
                var results: [OpaquePointer] = []
                defer { results.forEach { PQclear($0) } }
                var nulls = 0
                while nulls <= 2 {
                    guard let result = PQgetResult(handle) else {
                        nulls += 1
                        continue
                    }
                    if PQresultStatus(result) == PGRES_PIPELINE_SYNC {
                        PQclear(result)
                        break
                    }
                    results.append(result)
                }
                guard results.count == 2 else {
                    try results.forEach { try Self.check($0, handle) }
                    throw SQLError(.unavailable, "PostgreSQL connection lost in the middle of a pipeline", connectionLost: true)
                }
                try Self.check(results[0], handle)
                try Self.check(results[1], handle)
                return Self.outcome(of: results[1])
            }
        }
    }

    private static func sendFailure(_ handle: OpaquePointer) -> SQLError {
        SQLError(.unavailable, "PostgreSQL connection lost: \(firstLine(PQerrorMessage(handle)))", connectionLost: true)
    }

    func script(_ sql: String) async throws {
        try await onQueue { state in
            guard let handle = state.handle else { throw SQLError(.unavailable, "the connection is closed") }
            let result = PQexec(handle, sql)
            defer { PQclear(result) }
            try Self.check(result, handle)
        }
    }

    /// Every value as text (PostgreSQL infers each parameter's type from its use), as the C
    /// strings libpq reads for the length of `body`.
    private static func withValues<T>(_ parameters: [SQLValue], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) throws -> T) rethrows -> T {
        let texts: [String?] = parameters.map {
            switch $0 {
            case .text(let s): s
            case .integer(let n): String(n)
            case .null: nil
            }
        }
        return try withCStrings(texts, body)
    }

    /// `strings` as the C strings libpq reads, for the length of `body`; a nil is a null pointer.
    private static func withCStrings<T>(_ strings: [String?], _ body: (UnsafeBufferPointer<UnsafePointer<CChar>?>) throws -> T) rethrows -> T {
        let copies = strings.map { $0.flatMap { strdup($0) } }
        defer { copies.forEach { free($0) } }
        let pointers: [UnsafePointer<CChar>?] = copies.map { $0.map { UnsafePointer($0) } }
        return try pointers.withUnsafeBufferPointer { try body($0) }
    }

    private static func run(
        _ sql: String, _ parameters: [SQLValue], on handle: OpaquePointer, prepared: inout [String: String]
    ) throws -> Outcome {
        var name = prepared[sql]
        if name == nil, prepared.count < maxPrepared {
            let next = "parley_\(prepared.count + 1)"
            let preparing = PQprepare(handle, next, sql, Int32(parameters.count), nil)
            defer { PQclear(preparing) }
            try check(preparing, handle)
            prepared[sql] = next
            name = next
        }
        let result = withValues(parameters) { values in
            if let name {
                PQexecPrepared(handle, name, Int32(values.count), values.baseAddress, nil, nil, 0)
            } else {
                PQexecParams(handle, sql, Int32(values.count), nil, values.baseAddress, nil, nil, 0)
            }
        }
        defer { PQclear(result) }
        try check(result, handle)
        return outcome(of: result)
    }

    /// The rows (every value as text) and the count of rows changed.
    private static func outcome(of result: OpaquePointer?) -> Outcome {
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

    /// Turns a failed result into an `SQLError` classified by SQLSTATE (Appendix A of the manual).
    private static func check(_ result: OpaquePointer?, _ handle: OpaquePointer) throws {
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
