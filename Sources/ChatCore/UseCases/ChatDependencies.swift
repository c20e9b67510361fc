/// What the chat use cases need, built once by the composition root.
public struct ChatDependencies: Sendable {
    public let sessions: any ChatSessionRepository
    public let messages: any MessageRepository
    public let projects: any ProjectRepository
    public let clock: any WallClock
    public let ids: any IDGenerator
    /// Model ids the server offers; the first is the default for new sessions.
    public let models: [String]
    /// The answers being generated in this process (deleting a session stops its answer).
    public let turns: TurnRegistry
    /// Caps on what one owner may keep.
    public var ownership = OwnershipLimits()

    public init(sessions: any ChatSessionRepository, messages: any MessageRepository, projects: any ProjectRepository,
                clock: any WallClock = SystemClock(), ids: any IDGenerator = TimeOrderedIDGenerator(), models: [String],
                turns: TurnRegistry = TurnRegistry(keepAliveInterval: .seconds(15))) {
        self.sessions = sessions
        self.messages = messages
        self.projects = projects
        self.clock = clock
        self.ids = ids
        self.models = models
        self.turns = turns
    }

    func checkModel(_ model: String) throws(DomainError) {
        guard models.contains(model) else {
            throw .validation([FieldError("model", "must be one of the models this server offers: \(models.joined(separator: ", "))")])
        }
    }

    /// The longest system prompt a session may have, in characters.
    static let maxSystemPromptLength = 8000

    func checkSystemPrompt(_ prompt: String) throws(DomainError) -> String? {
        guard prompt.count <= Self.maxSystemPromptLength else {
            throw .validation([FieldError("system_prompt", "must be at most \(Self.maxSystemPromptLength) characters (it has \(prompt.count))")])
        }
        return prompt.trimmingWhiteSpace().isEmpty ? nil : prompt
    }

    func checkTitle(_ title: String) throws(DomainError) -> String {
        let trimmed = title.trimmingWhiteSpace()
        guard !trimmed.isEmpty, trimmed.count <= 200 else { throw .validation([FieldError("title", "must be 1 to 200 characters")]) }
        return trimmed
    }

    /// The caller's session, or "not found" (also for another user's session).
    func ownSession(_ id: ChatSession.ID, of principal: Principal) async throws -> ChatSession {
        guard let session = try await sessions.find(id: id, ownerID: principal.user.id) else { throw DomainError.notFound("session") }
        return session
    }
}
