public import ChatCore
import FoundationEssentials

public struct SQLProjectRepository: ProjectRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    private static let columns = "id, owner_id, name, description, created_at, updated_at"

    public func create(_ project: Project) async throws {
        _ = try await database.execute(
            "INSERT INTO projects (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6)",
            [.text(project.id.description), .text(project.ownerID.description), .text(project.name), .optional(project.description),
             .date(project.createdAt), .date(project.updatedAt)]
        )
    }

    public func find(id: Project.ID, ownerID: User.ID) async throws -> Project? {
        try await database.query(
            "SELECT \(Self.columns) FROM projects WHERE id = $1 AND owner_id = $2", [.text(id.description), .text(ownerID.description)]
        ).first.map(Self.decode)
    }

    public func list(ownerID: User.ID, limit: Int, cursor: String?) async throws -> Page<Project> {
        try await keysetPage(database, select: Self.columns, from: "projects", timeColumn: "created_at",
                             filter: ("owner_id = $1", [.text(ownerID.description)]), limit: limit, cursor: cursor,
                             decode: Self.decode) { ($0.createdAt, $0.id.description) }
    }

    public func count(ownerID: User.ID) async throws -> Int {
        try await database.query("SELECT COUNT(*) AS n FROM projects WHERE owner_id = $1", [.text(ownerID.description)]).first?.int("n") ?? 0
    }

    public func update(_ project: Project) async throws {
        _ = try await database.execute(
            "UPDATE projects SET name = $3, description = $4, updated_at = $5 WHERE id = $1 AND owner_id = $2",
            [.text(project.id.description), .text(project.ownerID.description), .text(project.name), .optional(project.description),
             .date(project.updatedAt)]
        )
    }

    public func delete(id: Project.ID, ownerID: User.ID) async throws -> Bool {
        try await database.execute("DELETE FROM projects WHERE id = $1 AND owner_id = $2", [.text(id.description), .text(ownerID.description)]) == 1
    }

    /// The use case checked the project, but it may be deleted before the write lands: the
    /// foreign key then refuses the write, and that is the same "project not found".
    static func projectMustExist(_ write: () async throws -> Void) async throws {
        do {
            try await write()
        } catch let error as SQLError where error.kind == .foreignKeyViolation {
            throw DomainError.notFound("project")
        }
    }

    public func addPrompt(_ prompt: Prompt) async throws {
        try await Self.projectMustExist {
            _ = try await database.execute(
                "INSERT INTO prompts (id, project_id, text, position, created_at) VALUES ($1, $2, $3, $4, $5)",
                [.text(prompt.id.description), .text(prompt.projectID.description), .text(prompt.text), .integer(prompt.position), .date(prompt.createdAt)]
            )
        }
    }

    public func prompts(projectID: Project.ID) async throws -> [Prompt] {
        try await database.query(
            "SELECT id, project_id, text, position, created_at FROM prompts WHERE project_id = $1 ORDER BY position, created_at, id",
            [.text(projectID.description)]
        ).map(Self.decodePrompt)
    }

    public func findPrompt(id: Prompt.ID) async throws -> Prompt? {
        try await database.query("SELECT id, project_id, text, position, created_at FROM prompts WHERE id = $1", [.text(id.description)])
            .first.map(Self.decodePrompt)
    }

    static func decodePrompt(_ row: SQLRow) throws -> Prompt {
        Prompt(id: Prompt.ID(try row.uuid("id")), projectID: Project.ID(try row.uuid("project_id")), text: try row.string("text"),
               position: try row.int("position"), createdAt: try row.date("created_at"))
    }

    public func updatePrompt(_ prompt: Prompt) async throws {
        _ = try await database.execute(
            "UPDATE prompts SET text = $3, position = $4 WHERE id = $1 AND project_id = $2",
            [.text(prompt.id.description), .text(prompt.projectID.description), .text(prompt.text), .integer(prompt.position)]
        )
    }

    public func deletePrompt(id: Prompt.ID, projectID: Project.ID) async throws -> Bool {
        try await database.execute("DELETE FROM prompts WHERE id = $1 AND project_id = $2", [.text(id.description), .text(projectID.description)]) == 1
    }

    static func decode(_ row: SQLRow) throws -> Project {
        Project(id: Project.ID(try row.uuid("id")), ownerID: User.ID(try row.uuid("owner_id")), name: try row.string("name"),
                description: row["description"], createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }
}
