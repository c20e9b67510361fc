/// Projects and their system prompts. Another user's project (or prompt) is "not found".
public struct ManageProjects: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func create(_ principal: Principal, name: String, description: String?) async throws -> Project {
        let (validName, description) = try Self.validate(name: name, description: description)
        let name = validName ?? name
        try deps.ownership.check(try await deps.projects.count(ownerID: principal.user.id), below: deps.ownership.projectsPerUser,
                                 tier: "projects", what: "projects")
        let now = deps.clock.now()
        let project = Project(id: Project.ID(deps.ids.newUUID()), ownerID: principal.user.id, name: name,
                              description: description, createdAt: now, updatedAt: now)
        try await deps.projects.create(project)
        return project
    }

    public func list(_ principal: Principal, limit: Int, cursor: String?) async throws -> Page<Project> {
        try await deps.projects.list(ownerID: principal.user.id, limit: limit, cursor: cursor)
    }

    public func get(_ principal: Principal, id: Project.ID) async throws -> Project {
        guard let project = try await deps.projects.find(id: id, ownerID: principal.user.id) else { throw DomainError.notFound("project") }
        return project
    }

    public func update(_ principal: Principal, id: Project.ID, name: String?, description: String?) async throws -> Project {
        var project = try await get(principal, id: id)
        let (newName, newDescription) = try Self.validate(name: name, description: description)
        if let newName { project.name = newName }
        if description != nil { project.description = newDescription }
        project.updatedAt = deps.clock.now()
        try await deps.projects.update(project)
        return project
    }

    public func delete(_ principal: Principal, id: Project.ID) async throws {
        guard try await deps.projects.delete(id: id, ownerID: principal.user.id) else { throw DomainError.notFound("project") }
    }

    public func addPrompt(_ principal: Principal, projectID: Project.ID, text: String, position: Int?) async throws -> Prompt {
        let project = try await get(principal, id: projectID)
        try Self.validate(text: text, position: position)
        let existing = try await deps.projects.prompts(projectID: project.id)
        try deps.ownership.check(existing.count, below: deps.ownership.promptsPerProject, tier: "prompts", what: "prompts", per: "project")
        try checkPromptCharacters(existing.reduce(0) { $0 + $1.text.count } + text.count)
        let prompt = Prompt(id: Prompt.ID(deps.ids.newUUID()), projectID: project.id, text: text,
                            position: position ?? ((existing.map(\.position).max() ?? -1) + 1), createdAt: deps.clock.now())
        try await deps.projects.addPrompt(prompt)
        return prompt
    }

    public func prompts(_ principal: Principal, projectID: Project.ID) async throws -> [Prompt] {
        try await deps.projects.prompts(projectID: try await get(principal, id: projectID).id)
    }

    public func updatePrompt(_ principal: Principal, id: Prompt.ID, text: String?, position: Int?) async throws -> Prompt {
        var prompt = try await ownPrompt(principal, id: id)
        if let text {
            try Self.validate(text: text, position: position)
            let others = try await deps.projects.prompts(projectID: prompt.projectID).filter { $0.id != prompt.id }
            try checkPromptCharacters(others.reduce(0) { $0 + $1.text.count } + text.count)
            prompt.text = text
        }
        if let position {
            try Self.validate(text: prompt.text, position: position)
            prompt.position = position
        }
        try await deps.projects.updatePrompt(prompt)
        return prompt
    }

    public func deletePrompt(_ principal: Principal, id: Prompt.ID) async throws {
        let prompt = try await ownPrompt(principal, id: id)
        _ = try await deps.projects.deletePrompt(id: prompt.id, projectID: prompt.projectID)
    }

    /// All of a project's prompts go upstream with every message: their total is capped.
    private func checkPromptCharacters(_ total: Int) throws(DomainError) {
        let limit = deps.ownership.promptCharactersPerProject
        if total > limit {
            throw .validation([FieldError("text", "would bring the project's prompts to \(total) characters; at most \(limit) in all")])
        }
    }

    private func ownPrompt(_ principal: Principal, id: Prompt.ID) async throws -> Prompt {
        guard let prompt = try await deps.projects.findPrompt(id: id),
              try await deps.projects.find(id: prompt.projectID, ownerID: principal.user.id) != nil
        else { throw DomainError.notFound("prompt") }
        return prompt
    }

    static func validate(name: String?, description: String?) throws(DomainError) -> (String?, String?) {
        var problems: [FieldError] = []
        let trimmed = name.map { $0.trimmingWhiteSpace() }
        if let trimmed, trimmed.isEmpty || trimmed.count > 100 { problems.append(FieldError("name", "must be 1 to 100 characters")) }
        if let description, description.count > 2000 { problems.append(FieldError("description", "must be at most 2000 characters")) }
        guard problems.isEmpty else { throw .validation(problems) }
        return (trimmed, description)
    }

    static func validate(text: String, position: Int?) throws(DomainError) {
        var problems: [FieldError] = []
        if text.trimmingWhiteSpace().isEmpty || text.count > 20_000 {
            problems.append(FieldError("text", "must be 1 to 20000 characters"))
        }
        if let position, !(0...10_000).contains(position) { problems.append(FieldError("position", "must be from 0 to 10000")) }
        guard problems.isEmpty else { throw .validation(problems) }
    }
}
