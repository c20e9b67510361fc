public import ChatCore
public import FoundationEssentials

/// A value bound to a `$n` parameter. Dates travel as RFC 3339 text and booleans as 1/0,
/// which both SQLite and PostgreSQL read into their column types.
public enum SQLValue: Sendable, Equatable {
    case text(String)
    case integer(Int)
    case null

    public static func date(_ date: Date?) -> SQLValue { date.map { .text(SQLDate.format($0)) } ?? .null }
    public static func bool(_ value: Bool) -> SQLValue { .integer(value ? 1 : 0) }
    public static func optional(_ text: String?) -> SQLValue { text.map { .text($0) } ?? .null }
}

extension Array where Element == SQLValue {
    /// `$k, $k+1, …` for these values when `offset` values come before them in the statement:
    /// the numbers follow from the values, so a statement built of several parts cannot
    /// misnumber one.
    func placeholders(after offset: Int = 0) -> String {
        indices.map { "$\(offset + $0 + 1)" }.joined(separator: ", ")
    }
}

/// Which SQL dialect a database speaks, to find its migrations.
public enum SQLDialect: String, Sendable {
    case sqlite
    case postgres
}

/// Queries against one connection (inside a transaction, or leased for a few statements).
public protocol SQLConnection: Sendable {
    /// Runs one statement with `$1…$n` parameters; returns its rows.
    func query(_ sql: String, _ parameters: [SQLValue]) async throws -> [SQLRow]
    /// Runs one statement; returns how many rows it changed.
    func execute(_ sql: String, _ parameters: [SQLValue]) async throws -> Int
    /// Runs several statements without parameters (a migration file).
    func executeScript(_ sql: String) async throws
}

/// A database: SQLite in one file, or a pool of PostgreSQL connections.
public protocol SQLDatabase: SQLConnection {
    var dialect: SQLDialect { get }
    /// Runs `body` on one connection inside a transaction: committed if it returns, rolled back if it throws.
    func transaction<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T
    /// Runs `body` with one connection leased (for session-level state such as advisory locks).
    func withConnection<T: Sendable>(_ body: @Sendable (any SQLConnection) async throws -> T) async throws -> T
    /// Whether the database answers a trivial query now.
    func ping() async -> Bool
    /// Connections leased and the pool's size, for a database with a pool.
    var poolUsage: (inUse: Int, size: Int)? { get }
    func close() async
}

extension SQLDatabase {
    public var poolUsage: (inUse: Int, size: Int)? { nil }
}

/// A failure of the database layer. `description` is safe to log and never holds SQL or values.
public struct SQLError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable {
        case uniqueViolation
        case foreignKeyViolation
        /// The database cannot be reached or a connection could not be had in time.
        case unavailable
        case decoding
        case other
    }

    public let kind: Kind
    public let message: String
    /// The connection itself broke (not just this statement): a pool drops it and every idle
    /// connection older than the failure, and a read may be tried once more on a new one.
    public let connectionLost: Bool

    public init(_ kind: Kind, _ message: String, connectionLost: Bool = false) {
        self.kind = kind
        self.message = message
        self.connectionLost = connectionLost
    }

    public var description: String { "database error (\(kind)): \(message)" }
}

extension SQLError: DependencyFailure {
    public var isTransient: Bool { kind == .unavailable }
    public var isConstraintViolation: Bool { kind == .uniqueViolation || kind == .foreignKeyViolation }
}
