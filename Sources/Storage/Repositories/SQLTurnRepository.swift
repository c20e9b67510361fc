public import ChatCore
public import FoundationEssentials

public struct SQLTurnRepository: TurnRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    private static let keyColumns = "user_id, idempotency_key, request_hash, session_id, user_message_id, assistant_message_id, created_at"

    public func idempotencyRecord(userID: User.ID, key: String, since: Date) async throws -> IdempotencyRecord? {
        try await Self.record(in: database, userID: userID, key: key, since: since)
    }

    private static func record(in connection: any SQLConnection, userID: User.ID, key: String, since: Date) async throws -> IdempotencyRecord? {
        try await connection.query(
            "SELECT \(keyColumns) FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2 AND created_at >= $3",
            [.text(userID.description), .text(key), .date(since)]
        ).first.map(decodeRecord)
    }

    /// One transaction. On PostgreSQL the session's row is locked first so that appends to
    /// one session take turns; SQLite has one writer anyway. A second answer in a session whose
    /// answer is still streaming (another instance's) breaks the unique index on streaming
    /// answers: `DomainError.turnInProgress`. A concurrent request with the same
    /// key makes the insert of the key fail as a duplicate: the transaction is rolled back and
    /// the loop reads the record the other request committed.
    public func begin(_ start: TurnStart, keysValidSince: Date) async throws -> TurnBeginning {
        let dialect = database.dialect
        let sessionID = start.userMessage.sessionID.description
        for attempt in 1...5 {
            do {
                return try await database.transaction { connection in
                    if let key = start.idempotency {
                        if let existing = try await Self.record(in: connection, userID: key.userID, key: key.key, since: keysValidSince) {
                            return .alreadyStarted(existing)
                        }
                        // An expired record of the same key gives way to the new one.
                        _ = try await connection.execute("DELETE FROM idempotency_keys WHERE user_id = $1 AND idempotency_key = $2",
                                                         [.text(key.userID.description), .text(key.key)])
                    }
                    let lock = dialect == .postgres ? " FOR UPDATE" : ""
                    guard let title = try await connection.query("SELECT title FROM chat_sessions WHERE id = $1\(lock)", [.text(sessionID)])
                        .first?.string("title") else {
                        throw DomainError.notFound("session")
                    }
                    let last = try await connection.query(
                        "SELECT COALESCE(MAX(position), 0) AS last FROM messages WHERE session_id = $1", [.text(sessionID)]
                    ).first?.int("last") ?? 0
                    var user = start.userMessage, assistant = start.assistantMessage
                    user.position = last + 1
                    assistant.position = last + 2
                    try await SQLMessageRepository.insert(user, into: connection)
                    try await SQLMessageRepository.insert(assistant, into: connection)
                    _ = try await connection.execute("UPDATE messages SET owner_instance = $2, lease_until = $3 WHERE id = $1",
                                                     [.text(assistant.id.description), .text(start.ownerInstance), .date(start.leaseUntil)])
                    let newTitle = last == 0 && title == start.defaultTitle ? start.firstMessageTitle : title
                    _ = try await connection.execute("UPDATE chat_sessions SET title = $2, updated_at = $3 WHERE id = $1",
                                                     [.text(sessionID), .text(newTitle), .date(user.createdAt)])
                    if let key = start.idempotency {
                        _ = try await connection.execute(
                            "INSERT INTO idempotency_keys (\(Self.keyColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            [.text(key.userID.description), .text(key.key), .text(key.requestHash), .text(key.sessionID.description),
                             .text(key.userMessageID.description), .text(key.assistantMessageID.description), .date(key.createdAt)]
                        )
                    }
                    return .started(user: user, assistant: assistant)
                }
            } catch let error as SQLError where error.kind == .uniqueViolation && attempt < 5 {
                // One answer per session, whichever instance runs it: the unique index on
                // streaming answers refused this one. Only then is the session looked at, so a
                // send costs no extra query; any other duplicate is a concurrent idempotency key.
                if try await database.query("SELECT id FROM messages WHERE session_id = $1 AND status = 'streaming'", [.text(sessionID)]).isEmpty {
                    continue
                }
                throw DomainError.turnInProgress
            }
        }
        throw SQLError(.other, "could not place a turn in its session")
    }

    public func purgeIdempotencyKeys(before: Date) async throws -> Int {
        try await database.execute("DELETE FROM idempotency_keys WHERE created_at < $1", [.date(before)])
    }

    static func decodeRecord(_ row: SQLRow) throws -> IdempotencyRecord {
        IdempotencyRecord(
            userID: User.ID(try row.uuid("user_id")), key: try row.string("idempotency_key"), requestHash: try row.string("request_hash"),
            sessionID: ChatSession.ID(try row.uuid("session_id")), userMessageID: Message.ID(try row.uuid("user_message_id")),
            assistantMessageID: Message.ID(try row.uuid("assistant_message_id")), createdAt: try row.date("created_at")
        )
    }
}
