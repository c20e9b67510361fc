public import ChatCore
import FoundationEssentials

public struct SQLChatSessionRepository: ChatSessionRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    static let columns = "id, owner_id, project_id, title, model, active_leaf_id, system_prompt, created_at, updated_at"
    /// `columns` of the table aliased `s`.
    static let prefixedColumns = columns.split(separator: ", ").map { "s.\($0)" }.joined(separator: ", ")

    public func create(_ session: ChatSession) async throws {
        try await Self.insert(session, into: database)
    }

    public func create(_ session: ChatSession, messages: [Message]) async throws {
        try await database.transaction { connection in
            try await Self.insert(session, into: connection)
            for message in messages { try await SQLMessageRepository.insert(message, into: connection) }
        }
    }

    static func insert(_ session: ChatSession, into connection: any SQLConnection) async throws {
        try await SQLProjectRepository.projectMustExist {
            _ = try await connection.execute(
                "INSERT INTO chat_sessions (\(columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                [.text(session.id.description), .text(session.ownerID.description), .optional(session.projectID?.description), .text(session.title),
                 .text(session.model), .optional(session.activeLeafID?.description), .optional(session.systemPrompt), .date(session.createdAt),
                 .date(session.updatedAt)]
            )
        }
    }

    public func find(id: ChatSession.ID, ownerID: User.ID) async throws -> ChatSession? {
        try await database.query(
            "SELECT \(Self.columns) FROM chat_sessions WHERE id = $1 AND owner_id = $2", [.text(id.description), .text(ownerID.description)]
        ).first.map(Self.decode)
    }

    public func list(ownerID: User.ID, projectID: Project.ID?, limit: Int, cursor: String?) async throws -> Page<ChatSession> {
        let filter: (String, [SQLValue]) = projectID.map { ("owner_id = $1 AND project_id = $2", [.text(ownerID.description), .text($0.description)]) }
            ?? ("owner_id = $1", [.text(ownerID.description)])
        return try await keysetPage(database, select: Self.columns, from: "chat_sessions", timeColumn: "updated_at",
                             filter: filter, limit: limit, cursor: cursor,
                             decode: Self.decode) { ($0.updatedAt, $0.id.description) }
    }

    public func count(ownerID: User.ID) async throws -> Int {
        try await database.query("SELECT COUNT(*) AS n FROM chat_sessions WHERE owner_id = $1", [.text(ownerID.description)]).first?.int("n") ?? 0
    }

    public func update(_ session: ChatSession) async throws {
        try await SQLProjectRepository.projectMustExist {
            _ = try await database.execute(
                "UPDATE chat_sessions SET project_id = $3, title = $4, model = $5, updated_at = $6, system_prompt = $7 WHERE id = $1 AND owner_id = $2",
                [.text(session.id.description), .text(session.ownerID.description), .optional(session.projectID?.description), .text(session.title),
                 .text(session.model), .date(session.updatedAt), .optional(session.systemPrompt)]
            )
        }
    }

    public func delete(id: ChatSession.ID, ownerID: User.ID) async throws -> Bool {
        try await database.execute("DELETE FROM chat_sessions WHERE id = $1 AND owner_id = $2", [.text(id.description), .text(ownerID.description)]) == 1
    }

    static func decode(_ row: SQLRow) throws -> ChatSession {
        ChatSession(
            id: ChatSession.ID(try row.uuid("id")), ownerID: User.ID(try row.uuid("owner_id")),
            projectID: try row["project_id"].map { _ in Project.ID(try row.uuid("project_id")) }, title: try row.string("title"),
            model: try row.string("model"), activeLeafID: try row["active_leaf_id"].map { _ in Message.ID(try row.uuid("active_leaf_id")) },
            systemPrompt: row["system_prompt"],
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at")
        )
    }
}
