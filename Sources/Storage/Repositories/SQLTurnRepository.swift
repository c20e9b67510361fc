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
                    guard let session = try await connection.query("SELECT title, active_leaf_id FROM chat_sessions WHERE id = $1\(lock)",
                                                                   [.text(sessionID)]).first else {
                        throw DomainError.notFound("session")
                    }
                    let title = try session.string("title")
                    let last = try await SQLMessageRepository.lastPosition(of: start.userMessage.sessionID, on: connection)
                    var user = start.userMessage, assistant = start.assistantMessage
                    let newUser: Bool
                    switch start.placement {
                    case .regenerate(let answerID):
                        guard let answer = try await SQLMessageRepository.find(answerID, in: user.sessionID, on: connection) else {
                            throw DomainError.notFound("message")
                        }
                        guard answer.role == .assistant, let questionID = answer.parentID,
                              let question = try await SQLMessageRepository.find(questionID, in: user.sessionID, on: connection), question.role == .user else {
                            throw DomainError.validation([FieldError("message", "must be an answer (an assistant message) to regenerate")])
                        }
                        user = question
                        newUser = false
                    case .activeLeaf, .after:
                        var parentID: Message.ID?
                        if case .after(let chosen) = start.placement {
                            parentID = chosen
                        } else if session["active_leaf_id"] != nil {
                            parentID = Message.ID(try session.uuid("active_leaf_id"))
                        }
                        user.parentID = nil
                        user.depth = 0
                        if let parentID {
                            guard let parent = try await SQLMessageRepository.find(parentID, in: user.sessionID, on: connection) else {
                                throw DomainError.notFound("message")
                            }
                            // A question follows an answer, never another question.
                            guard parent.role != .user else {
                                throw DomainError.validation([FieldError("parent_id", "must be an answer (an assistant message), or null for a new first message")])
                            }
                            user.parentID = parent.id
                            user.depth = parent.depth + 1
                        }
                        user.position = last + 1
                        try await SQLMessageRepository.insert(user, into: connection)
                        newUser = true
                    }
                    assistant.parentID = user.id
                    assistant.depth = user.depth + 1
                    assistant.position = last + (newUser ? 2 : 1)
                    try await SQLMessageRepository.insert(assistant, into: connection)
                    _ = try await connection.execute("UPDATE messages SET owner_instance = $2, lease_until = $3 WHERE id = $1",
                                                     [.text(assistant.id.description), .text(start.ownerInstance), .date(start.leaseUntil)])
                    let newTitle = last == 0 && newUser && title == start.defaultTitle ? start.firstMessageTitle : title
                    _ = try await connection.execute("UPDATE chat_sessions SET title = $2, updated_at = $3, active_leaf_id = $4 WHERE id = $1",
                                                     [.text(sessionID), .text(newTitle), .date(assistant.createdAt), .text(assistant.id.description)])
                    if let key = start.idempotency {
                        _ = try await connection.execute(
                            "INSERT INTO idempotency_keys (\(Self.keyColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            // The question as placed: for a regenerate, the one answered again.
                            [.text(key.userID.description), .text(key.key), .text(key.requestHash), .text(key.sessionID.description),
                             .text(user.id.description), .text(key.assistantMessageID.description), .date(key.createdAt)]
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
