private import CPostgres
#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import FoundationEssentials

/// One libpq connection with a serial queue of its own: libpq's calls block, so they run
/// there and never on the cooperative pool; callers await the result.
///
/// `@unchecked Sendable`: `handle` is only touched inside blocks on `queue`.
final class PostgresConnection: @unchecked Sendable {
    private let queue: DispatchQueue
    private var handle: OpaquePointer?
    /// When it was opened: after a failure the pool discards idle connections older than it.
    let openedAt = ContinuousClock.now

    private init(queue: DispatchQueue, handle: OpaquePointer) {
        self.queue = queue
        self.handle = handle
    }

    deinit {
        if let handle { PQfinish(handle) }
    }

    /// Connects (on a queue of its own) and sets the session to UTC so timestamps read back alike.
    static func connect(url: String, label: String) async throws -> PostgresConnection {
        let queue = DispatchQueue(label: label)
        let handle: OpaquePointer = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                guard let conn = PQconnectdb(url) else {
                    continuation.resume(throwing: SQLError(.unavailable, "cannot allocate a PostgreSQL connection"))
                    return
                }
                guard PQstatus(conn) == CONNECTION_OK else {
                    let message = Self.firstLine(PQerrorMessage(conn))
                    PQfinish(conn)
                    continuation.resume(throwing: SQLError(.unavailable, "cannot connect to PostgreSQL: \(message)"))
                    return
                }
                let result = PQexec(conn, "SET TIME ZONE 'UTC'")
                PQclear(result)
                continuation.resume(returning: conn)
            }
        }
        return PostgresConnection(queue: queue, handle: handle)
    }

    /// Whether the connection still looks usable, checked without a round trip: reading what
    /// the server sent notices a closed socket (a restarted server) at once.
    func isHealthy() async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async {
                guard let handle = self.handle else { return continuation.resume(returning: false) }
                let ok = PQconsumeInput(handle) == 1 && PQstatus(handle) == CONNECTION_OK
                continuation.resume(returning: ok)
            }
        }
    }

    func isBroken() async -> Bool {
        await withCheckedContinuation { continuation in
            queue.async { continuation.resume(returning: self.handle.map { PQstatus($0) != CONNECTION_OK } ?? true) }
        }
    }

    func close() async {
        await withCheckedContinuation { continuation in
            queue.async {
                if let handle = self.handle { PQfinish(handle) }
                self.handle = nil
                continuation.resume()
            }
        }
    }

    struct Outcome: Sendable {
        let rows: [SQLRow]
        let changes: Int
    }

    func run(_ sql: String, _ parameters: [SQLValue]) async throws -> Outcome {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try self.runOnQueue(sql, parameters) }) }
        }
    }

    func script(_ sql: String) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            queue.async {
                continuation.resume(with: Result {
                    guard let handle = self.handle else { throw SQLError(.unavailable, "the connection is closed") }
                    let result = PQexec(handle, sql)
                    defer { PQclear(result) }
                    try self.check(result, handle)
                })
            }
        }
    }

    private func runOnQueue(_ sql: String, _ parameters: [SQLValue]) throws -> Outcome {
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
