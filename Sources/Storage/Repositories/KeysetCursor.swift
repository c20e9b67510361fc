import ChatCore
import FoundationEssentials

/// Opaque page cursors: the sort key of the last item of a page, base64-encoded. A cursor that
/// this server did not issue is a validation error naming `cursor`, never a database error.
enum KeysetCursor {
    static func encode(_ date: Date, _ id: String) -> String {
        Data("\(SQLDate.format(date))|\(id)".utf8).base64EncodedString()
    }

    /// The timestamp text and id of a cursor made by `encode(_:_:)`.
    static func decode(_ cursor: String) throws -> (date: String, id: String) {
        guard let text = text(of: cursor) else { throw invalid }
        let parts = text.split(separator: "|")
        guard parts.count == 2, SQLDate.parse(String(parts[0])) != nil, UUID.parse(String(parts[1])) != nil else { throw invalid }
        return (String(parts[0]), String(parts[1]))
    }

    static func encode(position: Int) -> String {
        Data("p|\(position)".utf8).base64EncodedString()
    }

    static func decodePosition(_ cursor: String) throws -> Int {
        guard let text = text(of: cursor), text.hasPrefix("p|"), let position = Int(text.dropFirst(2)) else { throw invalid }
        return position
    }

    /// A cursor counting the rows before a page, for lists ordered by a computed rank.
    static func encode(offset: Int) -> String {
        Data("o|\(offset)".utf8).base64EncodedString()
    }

    static func decodeOffset(_ cursor: String) throws -> Int {
        guard let text = text(of: cursor), text.hasPrefix("o|"), let offset = Int(text.dropFirst(2)), offset >= 0 else { throw invalid }
        return offset
    }

    /// A cursor naming the message a page starts from (a path is paged by walking it).
    static func encode(message id: String) -> String {
        Data("m|\(id)".utf8).base64EncodedString()
    }

    static func decodeMessage(_ cursor: String) throws -> String {
        guard let text = text(of: cursor), text.hasPrefix("m|"), UUID.parse(String(text.dropFirst(2))) != nil else { throw invalid }
        return String(text.dropFirst(2))
    }

    private static func text(of cursor: String) -> String? {
        Data(base64Encoded: cursor).flatMap { String(data: $0, encoding: .utf8) }
    }

    private static var invalid: DomainError { .validation([FieldError("cursor", "is not a cursor this server issued")]) }
}

/// A newest-first page of `table`, ordered by (`timeColumn` DESC, `id` DESC) and continued from
/// `cursor`. `filter` is an SQL condition over `$1…$n` with its parameters, or nil; the cursor's
/// and the limit's parameters are numbered after them. Fetches one row more than `limit` to
/// know whether another page exists.
func keysetPage<T: Sendable>(
    _ database: any SQLDatabase, select columns: String, from table: String, timeColumn: String,
    filter: (sql: String, parameters: [SQLValue])? = nil, limit: Int, cursor: String?,
    decode: (SQLRow) throws -> T, key: (T) -> (Date, String)
) async throws -> Page<T> {
    var conditions = filter.map { [$0.sql] } ?? []
    var parameters = filter?.parameters ?? []
    if let cursor {
        let (time, id) = try KeysetCursor.decode(cursor)
        let t = parameters.count + 1, i = parameters.count + 2
        conditions.append("(\(timeColumn) < $\(t) OR (\(timeColumn) = $\(t) AND id < $\(i)))")
        parameters += [.text(time), .text(id)]
    }
    parameters.append(.integer(limit + 1))
    let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
    let rows = try await database.query(
        "SELECT \(columns) FROM \(table)\(whereClause) ORDER BY \(timeColumn) DESC, id DESC LIMIT $\(parameters.count)", parameters
    )
    return page(try rows.map(decode), limit: limit) { item in
        let (time, id) = key(item)
        return KeysetCursor.encode(time, id)
    }
}

/// A page from `limit + 1` fetched rows: the extra row only says that more exist.
func page<T: Sendable>(_ items: [T], limit: Int, cursor: (T) -> String) -> Page<T> {
    guard items.count > limit else { return Page(items: items, nextCursor: nil) }
    let kept = Array(items.prefix(limit))
    return Page(items: kept, nextCursor: kept.last.map(cursor))
}
