public import ChatCore
public import FoundationEssentials

public struct SQLMessageRepository: MessageRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    static let columns =
        "id, session_id, position, parent_id, depth, role, content, status, finish_reason, prompt_tokens, completion_tokens, usage_estimated, created_at, updated_at"

    /// `columns` of the table aliased `m`.
    static let prefixedColumns = columns.split(separator: ", ").map { "m.\($0)" }.joined(separator: ", ")

    /// Reads the session's active leaf and last position and inserts after them in one
    /// transaction. On PostgreSQL the session's row is locked first, so appends to one session
    /// take turns (SQLite's single writer already serialises them); the unique (session,
    /// position) index stays as a guard, and a refused insert is tried again.
    public func append(_ message: Message) async throws -> Message {
        let dialect = database.dialect
        for attempt in 1...5 {
            do {
                return try await database.transaction { connection in
                    let lock = dialect == .postgres ? " FOR UPDATE" : ""
                    guard let session = try await connection.query("SELECT active_leaf_id FROM chat_sessions WHERE id = $1\(lock)",
                                                                   [.text(message.sessionID.description)]).first else {
                        throw DomainError.notFound("session")
                    }
                    var stored = message
                    stored.parentID = nil
                    stored.depth = 0
                    if session["active_leaf_id"] != nil, let leaf = try await Self.find(Message.ID(try session.uuid("active_leaf_id")),
                                                                                         in: message.sessionID, on: connection) {
                        stored.parentID = leaf.id
                        stored.depth = leaf.depth + 1
                    }
                    stored.position = try await Self.lastPosition(of: message.sessionID, on: connection) + 1
                    try await Self.insert(stored, into: connection)
                    try await Self.setActiveLeaf(stored.id, of: message.sessionID, on: connection)
                    return stored
                }
            } catch let error as SQLError where error.kind == .uniqueViolation && attempt < 5 {
                continue
            }
        }
        throw SQLError(.other, "could not place a message in its session")
    }

    public func find(id: Message.ID, sessionID: ChatSession.ID) async throws -> Message? {
        try await Self.find(id, in: sessionID, on: database)
    }

    static func find(_ id: Message.ID, in sessionID: ChatSession.ID, on connection: any SQLConnection) async throws -> Message? {
        try await connection.query(
            "SELECT \(columns) FROM messages WHERE id = $1 AND session_id = $2", [.text(id.description), .text(sessionID.description)]
        ).first.map(decode)
    }

    static func lastPosition(of sessionID: ChatSession.ID, on connection: any SQLConnection) async throws -> Int {
        try await connection.query("SELECT COALESCE(MAX(position), 0) AS last FROM messages WHERE session_id = $1",
                                   [.text(sessionID.description)]).first?.int("last") ?? 0
    }

    static func setActiveLeaf(_ id: Message.ID?, of sessionID: ChatSession.ID, on connection: any SQLConnection) async throws {
        _ = try await connection.execute("UPDATE chat_sessions SET active_leaf_id = $2 WHERE id = $1",
                                         [.text(sessionID.description), .optional(id?.description)])
    }

    /// The path up from `$1` (the session's active leaf when null) in session `$2`, at most
    /// `$3` messages: one primary-key step per message, however large the tree. Each step is a
    /// scalar subquery, which a planner cannot turn into a join: with statistics that lag a
    /// growing table (a new deployment, before the first analyse), a join here is planned as a
    /// scan of the whole table per step. The walk ends on a null parent, which `pathRows`
    /// leaves out.
    private static let pathUp = """
        WITH RECURSIVE path(id, n) AS (
            SELECT id, 1 FROM messages
            WHERE id = COALESCE($1, (SELECT s.active_leaf_id FROM chat_sessions s WHERE s.id = $2)) AND session_id = $2
            UNION ALL
            SELECT (SELECT m.parent_id FROM messages m WHERE m.id = path.id), path.n + 1
            FROM path WHERE path.id IS NOT NULL AND path.n < $3
        )
        """

    /// The path's messages as `m`, each found by its primary key. PostgreSQL gets the lookup
    /// behind `OFFSET 0` (a subquery it keeps as written), for the reason `pathUp` gives;
    /// SQLite has no `LATERAL` and always looks a joined primary key up.
    private var pathRows: String {
        switch database.dialect {
        case .postgres: "path CROSS JOIN LATERAL (SELECT * FROM messages WHERE messages.id = path.id OFFSET 0) m"
        case .sqlite: "path JOIN messages m ON m.id = path.id"
        }
    }

    /// How many messages share a message's parent, and its place among them, from the
    /// parent's index (or the session's roots index): counted, never walked.
    private static let siblingColumns = """
        CASE WHEN m.parent_id IS NULL
             THEN (SELECT COUNT(*) FROM messages r WHERE r.session_id = m.session_id AND r.parent_id IS NULL)
             ELSE (SELECT COUNT(*) FROM messages r WHERE r.parent_id = m.parent_id) END AS siblings,
        CASE WHEN m.parent_id IS NULL
             THEN (SELECT COUNT(*) FROM messages r WHERE r.session_id = m.session_id AND r.parent_id IS NULL AND r.position < m.position)
             ELSE (SELECT COUNT(*) FROM messages r WHERE r.parent_id = m.parent_id AND r.position < m.position) END AS sibling_index
        """

    public func list(sessionID: ChatSession.ID, limit: Int, cursor: String?) async throws -> Page<PathMessage> {
        let start = try cursor.map(KeysetCursor.decodeMessage)
        let rows = try await database.query(
            "\(Self.pathUp) SELECT \(Self.prefixedColumns), \(Self.siblingColumns) FROM \(pathRows) ORDER BY path.n",
            [.optional(start), .text(sessionID.description), .integer(limit + 1)]
        )
        let items = try rows.map { row in PathMessage(message: try Self.decode(row), siblings: try row.int("siblings"), siblingIndex: try row.int("sibling_index")) }
        guard items.count > limit else { return Page(items: items, nextCursor: nil) }
        return Page(items: Array(items.prefix(limit)), nextCursor: KeysetCursor.encode(message: items[limit].message.id.description))
    }

    public func path(to id: Message.ID?, sessionID: ChatSession.ID, count: Int?) async throws -> [Message] {
        try await database.query(
            "\(Self.pathUp) SELECT \(Self.prefixedColumns) FROM \(pathRows) ORDER BY path.n DESC",
            [.optional(id?.description), .text(sessionID.description), .integer(count ?? Int(Int32.max))]
        ).map(Self.decode)
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

    public func tree(sessionID: ChatSession.ID, limit: Int, cursor: String?, withContent: Bool) async throws -> Page<Message> {
        let after = try cursor.map(KeysetCursor.decodeOffset) ?? 0
        let columns = withContent ? Self.columns : Self.columns.split(separator: ", ").map { $0 == "content" ? "'' AS content" : String($0) }
            .joined(separator: ", ")
        let rows = try await database.query(
            "SELECT \(columns) FROM messages WHERE session_id = $1 AND position > $2 ORDER BY position LIMIT $3",
            [.text(sessionID.description), .integer(after), .integer(limit + 1)]
        )
        return page(try rows.map(Self.decode), limit: limit) { KeysetCursor.encode(position: $0.position) }
    }

    /// From `$1` down through the newest reply at each step; the leaf it reaches.
    private static let pathDown = """
        WITH RECURSIVE down(id, n) AS (
            SELECT id, 0 FROM messages WHERE id = $1 AND session_id = $2
            UNION ALL
            SELECT (SELECT c.id FROM messages c WHERE c.parent_id = down.id ORDER BY c.position DESC LIMIT 1), down.n + 1
            FROM down WHERE down.id IS NOT NULL
        )
        SELECT id FROM down WHERE id IS NOT NULL ORDER BY n DESC LIMIT 1
        """

    static func leaf(under id: Message.ID, in sessionID: ChatSession.ID, on connection: any SQLConnection) async throws -> Message.ID? {
        try await connection.query(pathDown, [.text(id.description), .text(sessionID.description)]).first.map { Message.ID(try $0.uuid("id")) }
    }

    public func activate(_ id: Message.ID, sessionID: ChatSession.ID) async throws -> Message.ID? {
        let dialect = database.dialect
        return try await database.transaction { connection in
            // Under the session's lock (PostgreSQL), so a turn cannot begin in between.
            let lock = dialect == .postgres ? " FOR UPDATE" : ""
            guard try await !connection.query("SELECT id FROM chat_sessions WHERE id = $1\(lock)", [.text(sessionID.description)]).isEmpty else {
                return nil
            }
            if try await !connection.query("SELECT id FROM messages WHERE session_id = $1 AND status = 'streaming'",
                                           [.text(sessionID.description)]).isEmpty {
                throw DomainError.turnInProgress
            }
            guard let leaf = try await Self.leaf(under: id, in: sessionID, on: connection) else { return nil }
            try await Self.setActiveLeaf(leaf, of: sessionID, on: connection)
            return leaf
        }
    }

    public func deleteSubtree(_ id: Message.ID, sessionID: ChatSession.ID) async throws -> Bool {
        let dialect = database.dialect
        return try await database.transaction { connection in
            let lock = dialect == .postgres ? " FOR UPDATE" : ""
            let session = try await connection.query("SELECT active_leaf_id FROM chat_sessions WHERE id = $1\(lock)", [.text(sessionID.description)])
            guard let session = session.first, let root = try await Self.find(id, in: sessionID, on: connection) else { return false }
            let subtree = """
                WITH RECURSIVE sub(id) AS (
                    SELECT id FROM messages WHERE id = $1 AND session_id = $2
                    UNION ALL
                    SELECT m.id FROM messages m JOIN sub ON m.parent_id = sub.id
                )
                """
            let parameters: [SQLValue] = [.text(id.description), .text(sessionID.description)]
            if try await !connection.query("\(subtree) SELECT m.id FROM sub JOIN messages m ON m.id = sub.id WHERE m.status = 'streaming'", parameters).isEmpty {
                throw DomainError.turnInProgress
            }
            let activeLeaf = session["active_leaf_id"] == nil ? nil : Message.ID(try session.uuid("active_leaf_id"))
            var activeWasInside = false
            if let activeLeaf {
                activeWasInside = try await !connection.query("\(subtree) SELECT id FROM sub WHERE id = $3",
                                                              parameters + [.text(activeLeaf.description)]).isEmpty
            }
            _ = try await connection.execute("\(subtree) DELETE FROM messages WHERE id IN (SELECT id FROM sub)", parameters)
            if activeWasInside || activeLeaf == nil {
                var from = root.parentID
                if from == nil {
                    from = try await connection.query(
                        "SELECT id FROM messages WHERE session_id = $1 AND parent_id IS NULL ORDER BY position DESC LIMIT 1", [.text(sessionID.description)]
                    ).first.map { Message.ID(try $0.uuid("id")) }
                }
                var leaf: Message.ID?
                if let from { leaf = try await Self.leaf(under: from, in: sessionID, on: connection) }
                try await Self.setActiveLeaf(leaf, of: sessionID, on: connection)
            }
            return true
        }
    }

    public func update(_ message: Message) async throws {
        try await Self.update(message, on: database)
    }

    static let updateStatement =
        "UPDATE messages SET content = $2, status = $3, finish_reason = $4, prompt_tokens = $5, completion_tokens = $6, usage_estimated = $7, updated_at = $8 WHERE id = $1"

    static func update(_ message: Message, on connection: any SQLConnection) async throws {
        _ = try await connection.execute(updateStatement, Self.updateValues(message))
    }

    static func updateValues(_ message: Message) -> [SQLValue] {
        [.text(message.id.description), .text(message.content), .text(message.status.rawValue), .optional(message.finishReason),
         message.usage.map { .integer($0.promptTokens) } ?? .null, message.usage.map { .integer($0.completionTokens) } ?? .null,
         .bool(message.usage?.estimated ?? false), .date(message.updatedAt)]
    }

    public func streamingAnswers(lapsedBefore: Date?) async throws -> [(message: Message, ownerID: User.ID, model: String)] {
        let columns = Self.prefixedColumns
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
            "INSERT INTO messages (\(columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)", values(message)
        )
    }

    static func values(_ m: Message) -> [SQLValue] {
        [.text(m.id.description), .text(m.sessionID.description), .integer(m.position), .optional(m.parentID?.description), .integer(m.depth),
         .text(m.role.rawValue), .text(m.content),
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
            parentID: try row["parent_id"].map { _ in Message.ID(try row.uuid("parent_id")) }, depth: try row.int("depth"), role: role, content: try row.string("content"), status: status, finishReason: row["finish_reason"], usage: usage,
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
        try await Self.insert(event, into: database)
    }

    static let columns = "id, user_id, session_id, model, prompt_tokens, completion_tokens, estimated, latency_ms, at"

    static func values(_ event: UsageEvent) -> [SQLValue] {
        [.text(event.id.description), .text(event.userID.description), .optional(event.sessionID?.description), .text(event.model),
         .integer(event.usage.promptTokens), .integer(event.usage.completionTokens), .bool(event.usage.estimated),
         .integer(event.latencyMilliseconds), .date(event.at)]
    }

    static func insert(_ event: UsageEvent, into connection: any SQLConnection) async throws {
        let row = values(event)
        _ = try await connection.execute("INSERT INTO usage_events (\(columns)) VALUES (\(row.placeholders()))", row)
    }

    public func tokensUsed(userID: User.ID, since: Date) async throws -> Int {
        try await database.query(
            "SELECT COALESCE(SUM(prompt_tokens + completion_tokens), 0) AS used FROM usage_events WHERE user_id = $1 AND at >= $2",
            [.text(userID.description), .date(since)]
        ).first?.int("used") ?? 0
    }
}

extension SQLUsageRepository {
    /// The UTC day of `at`, as `2026-12-07`.
    private var dayOfEvent: String {
        // SQLite holds `at` as fixed-width RFC 3339 text in UTC.
        database.dialect == .postgres ? "to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD')" : "substr(at, 1, 10)"
    }

    private static let sums = "COUNT(*) AS answers, SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens"

    /// A row's `model` and the sums.
    private static func usage(_ row: SQLRow) throws -> ModelUsage {
        ModelUsage(model: try row.string("model"), totals: UsageTotals(answers: try row.int("answers"), promptTokens: try row.int("prompt_tokens"),
                                                                       completionTokens: try row.int("completion_tokens")))
    }

    public func daily(userID: User.ID, from: Date, until: Date) async throws -> [DailyUsage] {
        try await database.query(
            """
            SELECT \(dayOfEvent) AS day, model, \(Self.sums) FROM usage_events WHERE user_id = $1 AND at >= $2 AND at < $3
            GROUP BY 1, model ORDER BY 1, model
            """,
            [.text(userID.description), .date(from), .date(until)]
        ).map { row in DailyUsage(day: try row.string("day"), usage: try Self.usage(row)) }
    }

    public func byUser(from: Date, until: Date, limit: Int, cursor: String?) async throws -> Page<UserUsage> {
        let offset = try cursor.map(KeysetCursor.decodeOffset) ?? 0
        let rows = try await database.query(
            """
            SELECT t.user_id, u.email, t.model, t.answers, t.prompt_tokens, t.completion_tokens FROM (
                SELECT user_id, model, \(Self.sums) FROM usage_events WHERE at >= $1 AND at < $2 GROUP BY user_id, model
            ) t LEFT JOIN users u ON u.id = t.user_id
            ORDER BY t.prompt_tokens + t.completion_tokens DESC, t.user_id, t.model LIMIT $3 OFFSET $4
            """,
            [.date(from), .date(until), .integer(limit + 1), .integer(offset)]
        )
        let items = try rows.map { row in
            UserUsage(userID: User.ID(try row.uuid("user_id")), email: row["email"], usage: try Self.usage(row))
        }
        guard items.count > limit else { return Page(items: items, nextCursor: nil) }
        return Page(items: Array(items.prefix(limit)), nextCursor: KeysetCursor.encode(offset: offset + limit))
    }

    public func byModel(from: Date, until: Date) async throws -> [ModelUsage] {
        try await database.query(
            "SELECT model, \(Self.sums) FROM usage_events WHERE at >= $1 AND at < $2 GROUP BY model ORDER BY model",
            [.date(from), .date(until)]
        ).map(Self.usage)
    }
}

extension SQLMessageRepository: MessageSearch {
    /// SQLite ranks with FTS5's BM25, PostgreSQL with `ts_rank`; each term is handed over as a
    /// quoted phrase (FTS5) or through `phraseto_tsquery`, so nothing the user typed is read as
    /// an operator. The excerpt is computed for the page's rows only.
    /// Moves every message waiting in SQLite's search backlog into the full-text index in one
    /// transaction, so FTS5 writes one segment for all of them (`migrations/sqlite/0009_search_backlog.sql`
    /// says why); returns how many. PostgreSQL indexes as it writes (its GIN index batches by
    /// itself): nothing to do there.
    public func indexSearchBacklog() async throws -> Int {
        guard database.dialect == .sqlite else { return 0 }
        return try await database.transaction { connection in
            let indexed = try await connection.execute(
                "INSERT INTO messages_search (rowid, content) SELECT m.rowid, m.content FROM search_backlog b JOIN messages m ON m.rowid = b.message_rowid", []
            )
            if indexed > 0 { _ = try await connection.execute("DELETE FROM search_backlog", []) }
            return indexed
        }
    }

    public func search(_ query: SearchQuery, ownerID: User.ID, limit: Int, cursor: String?) async throws -> Page<SearchHit> {
        let offset = try cursor.map(KeysetCursor.decodeOffset) ?? 0
        let hitColumns = "m.id, m.session_id, m.role, m.created_at, s.title"
        let rows: [SQLRow]
        switch database.dialect {
        case .sqlite:
            // Everything committed before the search is found: what waits is indexed first.
            _ = try await indexSearchBacklog()
            let match = query.terms.map { "\"" + $0.split(separator: "\"", omittingEmptySubsequences: false).joined(separator: "\"\"") + "\"" }.joined(separator: " ")
            rows = try await database.query(
                """
                SELECT \(hitColumns), snippet(messages_search, 0, '', '', '…', 24) AS snippet
                FROM messages_search JOIN messages m ON m.rowid = messages_search.rowid JOIN chat_sessions s ON s.id = m.session_id
                WHERE messages_search MATCH $1 AND s.owner_id = $2
                ORDER BY messages_search.rank, m.created_at DESC, m.id LIMIT $3 OFFSET $4
                """,
                [.text(match), .text(ownerID.description), .integer(limit + 1), .integer(offset)]
            )
        case .postgres:
            let tsquery = query.terms.indices.map { "phraseto_tsquery('english', $\($0 + 4))" }.joined(separator: " && ")
            rows = try await database.query(
                """
                WITH q AS (SELECT \(tsquery) AS q)
                SELECT hit.id, hit.session_id, hit.role, hit.created_at, hit.title,
                       ts_headline('english', hit.content, hit.q, 'StartSel="", StopSel="", MaxWords=30, MinWords=12, MaxFragments=2, FragmentDelimiter=" … "') AS snippet
                FROM (
                    SELECT \(hitColumns), m.content, q.q, ts_rank(m.search, q.q) AS rank
                    FROM q, messages m JOIN chat_sessions s ON s.id = m.session_id
                    WHERE m.search @@ q.q AND s.owner_id = $1
                    ORDER BY rank DESC, m.created_at DESC, m.id LIMIT $2 OFFSET $3
                ) hit ORDER BY hit.rank DESC, hit.created_at DESC, hit.id
                """,
                [.text(ownerID.description), .integer(limit + 1), .integer(offset)] + query.terms.map { .text($0) }
            )
        }
        let items = try rows.map { row in
            guard let role = Message.Role(rawValue: try row.string("role")) else { throw SQLError(.decoding, "message role is not one parley knows") }
            return SearchHit(messageID: Message.ID(try row.uuid("id")), sessionID: ChatSession.ID(try row.uuid("session_id")),
                             sessionTitle: try row.string("title"), role: role, snippet: try row.string("snippet"), createdAt: try row.date("created_at"))
        }
        guard items.count > limit else { return Page(items: items, nextCursor: nil) }
        return Page(items: Array(items.prefix(limit)), nextCursor: KeysetCursor.encode(offset: offset + limit))
    }
}
