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

    /// One transaction of three statements for a plain send: the session with its last
    /// position and the new message's parent (one read, locking the session's row on
    /// PostgreSQL so that appends to one session take turns; SQLite has one writer anyway),
    /// both messages in one insert, and the session's title, activity and active leaf. A
    /// second answer in a session whose answer is still streaming (another instance's) breaks
    /// the unique index on streaming answers: `DomainError.turnInProgress`. A concurrent
    /// request with the same key makes the insert of the key fail as a duplicate: the
    /// transaction is rolled back and the loop reads the record the other request committed.
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
                    // The parent a new user message goes after: the active leaf, a chosen
                    // answer, or none (a new first message; a regenerate places no user message).
                    var chosen = true
                    var chosenParent: Message.ID?
                    switch start.placement {
                    case .activeLeaf: chosen = false
                    case .after(let parent): chosenParent = parent
                    case .regenerate: break
                    }
                    var parameters: [SQLValue] = [.text(sessionID), .bool(chosen), .optional(chosenParent?.description)]
                    var owner = ""
                    if let ownerID = start.ownerID {
                        parameters.append(.text(ownerID.description))
                        owner = " AND s.owner_id = $4"
                    }
                    let lock = dialect == .postgres ? " FOR UPDATE OF s" : ""
                    guard let row = try await connection.query(
                        """
                        SELECT \(SQLChatSessionRepository.prefixedColumns),
                               (SELECT COALESCE(MAX(m.position), 0) FROM messages m WHERE m.session_id = s.id) AS last_position,
                               p.id AS parent_id, p.role AS parent_role, p.depth AS parent_depth
                        FROM chat_sessions s
                        LEFT JOIN messages p ON p.id = (CASE WHEN $2 = 1 THEN $3 ELSE s.active_leaf_id END) AND p.session_id = s.id
                        WHERE s.id = $1\(owner)\(lock)
                        """, parameters).first else {
                        throw DomainError.notFound("session")
                    }
                    let session = try SQLChatSessionRepository.decode(row)
                    let last = try row.int("last_position")
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
                        user.parentID = nil
                        user.depth = 0
                        if row["parent_id"] != nil {
                            // A question follows an answer, never another question.
                            guard try row.string("parent_role") == Message.Role.assistant.rawValue else {
                                throw DomainError.validation([FieldError("parent_id", "must be an answer (an assistant message), or null for a new first message")])
                            }
                            user.parentID = Message.ID(try row.uuid("parent_id"))
                            user.depth = try row.int("parent_depth") + 1
                        } else if chosenParent != nil {
                            throw DomainError.notFound("message")
                        }
                        user.position = last + 1
                        newUser = true
                    }
                    assistant.parentID = user.id
                    assistant.depth = user.depth + 1
                    assistant.position = last + (newUser ? 2 : 1)
                    let newTitle = last == 0 && newUser && session.title == start.defaultTitle ? start.firstMessageTitle : session.title
                    try await Self.place(newUser ? [user, assistant] : [assistant], owner: start.ownerInstance, leaseUntil: start.leaseUntil,
                                         session: sessionID, title: newTitle, dialect: dialect, on: connection)
                    if let key = start.idempotency {
                        _ = try await connection.execute(
                            "INSERT INTO idempotency_keys (\(Self.keyColumns)) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                            // The question as placed: for a regenerate, the one answered again.
                            [.text(key.userID.description), .text(key.key), .text(key.requestHash), .text(key.sessionID.description),
                             .text(user.id.description), .text(key.assistantMessageID.description), .date(key.createdAt)]
                        )
                    }
                    var placed = session
                    placed.title = newTitle
                    placed.activeLeafID = assistant.id
                    placed.updatedAt = assistant.createdAt
                    return .started(user: user, assistant: assistant, session: placed)
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

    /// The turn's new messages in one statement (the answer, the last, carries its owner and
    /// lease, a new question neither), and the session's title, activity and active leaf. On
    /// PostgreSQL both are one statement, a round trip fewer (a data-modifying `WITH` always
    /// runs to completion); SQLite, in process, has no such form and needs none.
    private static func place(_ messages: [Message], owner: String, leaseUntil: Date, session: String, title: String, dialect: SQLDialect,
                              on connection: any SQLConnection) async throws {
        var rows: [String] = []
        var values: [SQLValue] = []
        for (index, message) in messages.enumerated() {
            let isAnswer = index == messages.count - 1
            let row = SQLMessageRepository.values(message) + [isAnswer ? .text(owner) : .null, isAnswer ? .date(leaseUntil) : .null]
            rows.append("(" + row.placeholders(after: values.count) + ")")
            values += row
        }
        let insert = "INSERT INTO messages (\(SQLMessageRepository.columns), owner_instance, lease_until) VALUES \(rows.joined(separator: ", "))"
        let answer = messages[messages.count - 1]
        let sessionValues: [SQLValue] = [.text(session), .text(title), .date(answer.createdAt), .text(answer.id.description)]
        func update(after n: Int) -> String {
            "UPDATE chat_sessions SET title = $\(n + 2), updated_at = $\(n + 3), active_leaf_id = $\(n + 4) WHERE id = $\(n + 1)"
        }
        switch dialect {
        case .postgres:
            _ = try await connection.execute("WITH placed AS (\(insert)) \(update(after: values.count))", values + sessionValues)
        case .sqlite:
            _ = try await connection.execute(insert, values)
            _ = try await connection.execute(update(after: 0), sessionValues)
        }
    }

    /// The answer as it ended and its usage, committed together: on PostgreSQL as one statement
    /// without a transaction around it (one round trip instead of four), on SQLite as a
    /// transaction of two.
    public func finish(_ answer: Message, usage: UsageEvent) async throws {
        switch database.dialect {
        case .postgres:
            let update = SQLMessageRepository.updateValues(answer), event = SQLUsageRepository.values(usage)
            _ = try await database.execute(
                """
                WITH ended AS (\(SQLMessageRepository.updateStatement))
                INSERT INTO usage_events (\(SQLUsageRepository.columns)) VALUES (\(event.placeholders(after: update.count)))
                """,
                update + event
            )
        case .sqlite:
            try await database.transaction { connection in
                try await SQLMessageRepository.update(answer, on: connection)
                try await SQLUsageRepository.insert(usage, into: connection)
            }
        }
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
