public import FoundationEssentials

/// A conversation brought from elsewhere (parley's own export, another product's), before it
/// is checked: messages named by the ids they had there, each naming its parent.
public struct ImportedSession: Sendable {
    public struct Entry: Sendable {
        public var sourceID: String
        public var parentSourceID: String?
        public var role: Message.Role
        public var content: String
        public var status: Message.Status
        public var finishReason: String?
        public var usage: TokenUsage?
        public var createdAt: Date?

        public init(sourceID: String, parentSourceID: String?, role: Message.Role, content: String, status: Message.Status = .complete,
                    finishReason: String? = nil, usage: TokenUsage? = nil, createdAt: Date? = nil) {
            self.sourceID = sourceID
            self.parentSourceID = parentSourceID
            self.role = role
            self.content = content
            self.status = status
            self.finishReason = finishReason
            self.usage = usage
            self.createdAt = createdAt
        }
    }

    public var title: String?
    public var model: String?
    public var createdAt: Date?
    public var systemPrompt: String?
    public var messages: [Entry]
    /// The end of the active path there; the last message when nil.
    public var activeLeafSourceID: String?

    public init(title: String?, model: String?, createdAt: Date?, messages: [Entry], activeLeafSourceID: String?) {
        self.title = title
        self.model = model
        self.createdAt = createdAt
        self.messages = messages
        self.activeLeafSourceID = activeLeafSourceID
    }
}

/// Creates sessions from imported conversations, trees and all, with new ids: all of them or,
/// if any is invalid or they would pass the account's session cap, none.
public struct ImportSessions: Sendable {
    /// The most messages one imported conversation may hold.
    public static let maxMessages = 10_000
    /// The longest message content an import accepts, in characters (answers are longer than
    /// what a user may send).
    public static let maxContentLength = 1_000_000

    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, _ imported: [ImportedSession]) async throws -> [ChatSession] {
        guard !imported.isEmpty else { throw DomainError.validation([FieldError("sessions", "must hold at least one conversation")]) }
        let existing = try await deps.sessions.count(ownerID: principal.user.id)
        try deps.ownership.check(existing + imported.count - 1, below: deps.ownership.sessionsPerUser, tier: "sessions", what: "sessions")
        let now = deps.clock.now()
        var built: [(ChatSession, [Message])] = []
        for (index, conversation) in imported.enumerated() {
            built.append(try build(conversation, index: index, owner: principal.user.id, now: now, single: imported.count == 1))
        }
        for (session, messages) in built { try await deps.sessions.create(session, messages: messages) }
        return built.map(\.0)
    }

    /// The session and its messages, each after its parent, with new ids and positions.
    private func build(_ conversation: ImportedSession, index: Int, owner: User.ID, now: Date, single: Bool) throws -> (ChatSession, [Message]) {
        let at = single ? "" : "sessions[\(index)]."
        func invalid(_ field: String, _ message: String) -> DomainError { .validation([FieldError(at + field, message)]) }
        guard conversation.messages.count <= Self.maxMessages else {
            throw invalid("messages", "must hold at most \(Self.maxMessages) messages (it has \(conversation.messages.count))")
        }
        let model = conversation.model.flatMap { deps.models.contains($0) ? $0 : nil } ?? deps.models.first ?? "mock"
        var title = ChatSession.defaultTitle
        if let given = conversation.title, !given.trimmingWhiteSpace().isEmpty {
            let trimmed = given.trimmingWhiteSpace()
            title = trimmed.count > 200 ? String(trimmed.prefix(199)) + "…" : trimmed
        }
        var session = ChatSession(id: ChatSession.ID(deps.ids.newUUID()), ownerID: owner, projectID: nil, title: title, model: model,
                                  systemPrompt: try conversation.systemPrompt.flatMap(deps.checkSystemPrompt),
                                  createdAt: conversation.createdAt ?? now, updatedAt: now)
        var children: [String?: [Int]] = [:]
        var seen = Set<String>()
        for (i, entry) in conversation.messages.enumerated() {
            guard seen.insert(entry.sourceID).inserted else { throw invalid("messages[\(i)].id", "is used by an earlier message") }
            guard entry.content.count <= Self.maxContentLength else {
                throw invalid("messages[\(i)].content", "must be at most \(Self.maxContentLength) characters")
            }
            children[entry.parentSourceID, default: []].append(i)
        }
        for (i, entry) in conversation.messages.enumerated() where entry.parentSourceID.map({ !seen.contains($0) }) ?? false {
            throw invalid("messages[\(i)].parent_id", "names no message of this conversation")
        }
        // Each parent before its replies: walk from the roots (a cycle is never reached).
        var ids: [String: Message.ID] = [:]
        var messages: [Message] = []
        var stack: [(index: Int, parent: Message?)] = (children[nil] ?? []).reversed().map { ($0, nil) }
        while let (i, parent) = stack.popLast() {
            let entry = conversation.messages[i]
            let id = Message.ID(deps.ids.newUUID())
            ids[entry.sourceID] = id
            let created = entry.createdAt ?? session.createdAt
            let message = Message(id: id, sessionID: session.id, position: messages.count + 1, parentID: parent?.id, depth: parent.map { $0.depth + 1 } ?? 0,
                                  role: entry.role, content: entry.content, status: entry.status == .streaming ? .interrupted : entry.status,
                                  finishReason: entry.finishReason, usage: entry.usage, createdAt: created, updatedAt: created)
            messages.append(message)
            stack += (children[entry.sourceID] ?? []).reversed().map { ($0, message) }
        }
        guard messages.count == conversation.messages.count else {
            throw invalid("messages", "must form a tree: some messages are their own ancestors")
        }
        if let leaf = conversation.activeLeafSourceID {
            guard let id = ids[leaf] else { throw invalid("active_leaf_id", "names no message of this conversation") }
            session.activeLeafID = id
        } else {
            session.activeLeafID = messages.last?.id
        }
        return (session, messages)
    }
}
