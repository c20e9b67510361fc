public import ChatCore
public import FoundationEssentials

/// One result row; every driver hands values over as text (or null), decoded here with
/// errors that name the column.
public struct SQLRow: Sendable {
    let columns: [String]
    let values: [String?]

    public init(columns: [String], values: [String?]) {
        self.columns = columns
        self.values = values
    }

    public subscript(column: String) -> String? {
        guard let i = columns.firstIndex(of: column) else { return nil }
        return values[i]
    }

    public func string(_ column: String) throws(SQLError) -> String {
        guard let value = self[column] else { throw SQLError(.decoding, "column \(column) is null or missing") }
        return value
    }

    public func int(_ column: String) throws(SQLError) -> Int {
        guard let value = Int(try string(column)) else { throw SQLError(.decoding, "column \(column) is not an integer") }
        return value
    }

    /// PostgreSQL sends `t`/`f`, SQLite `1`/`0`.
    public func bool(_ column: String) throws(SQLError) -> Bool {
        switch try string(column) {
        case "t", "true", "1": return true
        case "f", "false", "0": return false
        default: throw SQLError(.decoding, "column \(column) is not a boolean")
        }
    }

    public func date(_ column: String) throws(SQLError) -> Date {
        guard let date = SQLDate.parse(try string(column)) else { throw SQLError(.decoding, "column \(column) is not a timestamp") }
        return date
    }

    public func optionalDate(_ column: String) throws(SQLError) -> Date? {
        guard self[column] != nil else { return nil }
        return try date(column)
    }

    public func uuid(_ column: String) throws(SQLError) -> UUID {
        guard let uuid = UUID.parse(try string(column)) else { throw SQLError(.decoding, "column \(column) is not a UUID") }
        return uuid
    }
}

/// Timestamps in both databases are the text `Timestamp` writes (fixed width, so SQLite
/// compares them correctly as strings), read in that form or PostgreSQL's
/// `2026-11-23 17:40:39.123+00`.
public typealias SQLDate = Timestamp
