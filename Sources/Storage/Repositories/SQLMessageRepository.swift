public import ChatCore
public import FoundationEssentials

public struct SQLMessageRepository: MessageRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    private static let columns =
        "id, session_id, position, role, content, status, finish_reason, prompt_tokens, completion_tokens, usage_estimated, created_at, updated_at"

    /// Reads the session's last position and inserts after it in one transaction. On
    /// PostgreSQL the session's row is locked first, so appends to one session take turns
    /// (SQLite's single writer already serialises them); the unique (session, position) index
    /// stays as a guard, and a refused insert is tried again.
    public func append(_ message: Message) async throws -> Message {
        let dialect = database.dialect
        for attempt in 1...5 {
            do {
                return try await database.transaction { connection in
                    if dialect == .postgres {
                        _ = try await connection.query("SELECT id FROM chat_sessions WHERE id = $1 FOR UPDATE", [.text(message.sessionID.description)])
                    }
                    let last = try await connection.query(
                        "SELECT COALESCE(MAX(position), 0) AS last FROM messages WHERE session_id = $1", [.text(message.sessionID.description)]
                    ).first?.int("last") ?? 0
                    var stored = message
                    stored.position = last + 1
                    try await Self.insert(stored, into: connection)
                    return stored
                }
            } catch let error as SQLError where error.kind == .uniqueViolation && attempt < 5 {
                continue
            }
        }
        throw SQLError(.other, "could not place a message in its session")
    }

    public func find(id: Message.ID, sessionID: ChatSession.ID) async throws -> Message? {
        try await database.query(
            "SELECT \(Self.columns) FROM messages WHERE id = $1 AND session_id = $2", [.text(id.description), .text(sessionID.description)]
        ).first.map(Self.decode)
    }

    public func list(sessionID: ChatSession.ID, limit: Int, cursor: String?) async throws -> Page<Message> {
        // Positions are `integer` in PostgreSQL: the "no cursor" bound must fit in 32 bits.
        let before = try cursor.map(KeysetCursor.decodePosition) ?? Int(Int32.max)
        let rows = try await database.query(
            "SELECT \(Self.columns) FROM messages WHERE session_id = $1 AND position < $2 ORDER BY position DESC LIMIT $3",
            [.text(sessionID.description), .integer(before), .integer(limit + 1)]
        )
        return page(try rows.map(Self.decode), limit: limit) { KeysetCursor.encode(position: $0.position) }
    }

    public func recent(sessionID: ChatSession.ID, count: Int) async throws -> [Message] {
        try await database.query(
            "SELECT \(Self.columns) FROM messages WHERE session_id = $1 ORDER BY position DESC LIMIT $2",
            [.text(sessionID.description), .integer(count)]
        ).map(Self.decode).reversed()
    }

    public func streaming(sessionID: ChatSession.ID) async throws -> Message? {
        try await database.query(
            "SELECT \(Self.columns) FROM messages WHERE session_id = $1 AND status = 'streaming' ORDER BY position DESC LIMIT 1",
            [.text(sessionID.description)]
        ).first.map(Self.decode)
    }

    public func all(sessionID: ChatSession.ID) async throws -> [Message] {
        try await database.query(
            "SELECT \(Self.columns) FROM messages WHERE session_id = $1 ORDER BY position", [.text(sessionID.description)]
        ).map(Self.decode)
    }

    public func update(_ message: Message) async throws {
        _ = try await database.execute(
            "UPDATE messages SET content = $2, status = $3, finish_reason = $4, prompt_tokens = $5, completion_tokens = $6, usage_estimated = $7, updated_at = $8 WHERE id = $1",
            Self.updateValues(message)
        )
    }

    static func updateValues(_ message: Message) -> [SQLValue] {
        [.text(message.id.description), .text(message.content), .text(message.status.rawValue), .optional(message.finishReason),
         message.usage.map { .integer($0.promptTokens) } ?? .null, message.usage.map { .integer($0.completionTokens) } ?? .null,
         .bool(message.usage?.estimated ?? false), .date(message.updatedAt)]
    }

    public func streamingAnswers(lapsedBefore: Date?) async throws -> [(message: Message, ownerID: User.ID, model: String)] {
        let columns = Self.columns.split(separator: ", ").map { "m.\($0)" }.joined(separator: ", ")
        let lapsed = lapsedBefore == nil ? "" : " AND (m.lease_until IS NULL OR m.lease_until < $1)"
        return try await database.query(
            "SELECT \(columns), s.owner_id, s.model FROM messages m JOIN chat_sessions s ON s.id = m.session_id WHERE m.status = 'streaming'\(lapsed)",
            lapsedBefore.map { [.date($0)] } ?? []
        ).map { row in (try Self.decode(row), User.ID(try row.uuid("owner_id")), try row.string("model")) }
    }

    public func updateIfStreaming(_ message: Message, lapsedBefore: Date?) async throws -> Bool {
        let lapsed = lapsedBefore == nil ? "" : " AND (lease_until IS NULL OR lease_until < $9)"
        return try await database.execute(
            "UPDATE messages SET content = $2, status = $3, finish_reason = $4, prompt_tokens = $5, completion_tokens = $6, usage_estimated = $7, updated_at = $8 WHERE id = $1 AND status = 'streaming'\(lapsed)",
            Self.updateValues(message) + (lapsedBefore.map { [.date($0)] } ?? [])
        ) == 1
    }

    public func checkpoint(_ message: Message, leaseUntil: Date) async throws {
        _ = try await database.execute(
            "UPDATE messages SET content = $2, updated_at = $3, lease_until = $4 WHERE id = $1 AND status = 'streaming'",
            [.text(message.id.description), .text(message.content), .date(message.updatedAt), .date(leaseUntil)]
        )
    }

    public func renewLease(of id: Message.ID, until: Date) async throws {
        _ = try await database.execute("UPDATE messages SET lease_until = $2 WHERE id = $1 AND status = 'streaming'",
                                       [.text(id.description), .date(until)])
    }

    static func insert(_ message: Message, into connection: any SQLConnection) async throws {
        _ = try await connection.execute(
            "INSERT INTO messages (\(columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)", values(message)
        )
    }

    static func values(_ m: Message) -> [SQLValue] {
        [.text(m.id.description), .text(m.sessionID.description), .integer(m.position), .text(m.role.rawValue), .text(m.content),
         .text(m.status.rawValue), .optional(m.finishReason), m.usage.map { .integer($0.promptTokens) } ?? .null,
         m.usage.map { .integer($0.completionTokens) } ?? .null, .bool(m.usage?.estimated ?? false), .date(m.createdAt), .date(m.updatedAt)]
    }

    static func decode(_ row: SQLRow) throws -> Message {
        var usage: TokenUsage?
        if row["prompt_tokens"] != nil || row["completion_tokens"] != nil {
            usage = TokenUsage(promptTokens: (try? row.int("prompt_tokens")) ?? 0, completionTokens: (try? row.int("completion_tokens")) ?? 0,
                               estimated: try row.bool("usage_estimated"))
        }
        guard let role = Message.Role(rawValue: try row.string("role")), let status = Message.Status(rawValue: try row.string("status")) else {
            throw SQLError(.decoding, "message role or status is not one parley knows")
        }
        return Message(
            id: Message.ID(try row.uuid("id")), sessionID: ChatSession.ID(try row.uuid("session_id")), position: try row.int("position"),
            role: role, content: try row.string("content"), status: status, finishReason: row["finish_reason"], usage: usage,
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at")
        )
    }
}

public struct SQLUsageRepository: UsageRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    /// A turn whose session was deleted meanwhile is still charged, without the session.
    public func record(_ event: UsageEvent) async throws {
        do {
            try await insert(event)
        } catch let error as SQLError where error.kind == .foreignKeyViolation && event.sessionID != nil {
            try await insert(UsageEvent(id: event.id, userID: event.userID, sessionID: nil, model: event.model, usage: event.usage,
                                        latencyMilliseconds: event.latencyMilliseconds, at: event.at))
        }
    }

    private func insert(_ event: UsageEvent) async throws {
        _ = try await database.execute(
            "INSERT INTO usage_events (id, user_id, session_id, model, prompt_tokens, completion_tokens, estimated, latency_ms, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [.text(event.id.description), .text(event.userID.description), .optional(event.sessionID?.description), .text(event.model),
             .integer(event.usage.promptTokens), .integer(event.usage.completionTokens), .bool(event.usage.estimated),
             .integer(event.latencyMilliseconds), .date(event.at)]
        )
    }

    public func tokensUsed(userID: User.ID, since: Date) async throws -> Int {
        try await database.query(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS used FROM usage_events WHERE user_id = $1 AND at >= $2",
            [.text(userID.description), .date(since)]
        ).first?.int("used") ?? 0
    }
}
