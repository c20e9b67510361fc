/// Starts a session. Its title is "New chat" until the first message names it.
public struct CreateSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, title: String?, model: String?, projectID: Project.ID?,
                               systemPrompt: String? = nil) async throws -> ChatSession {
        let model = model ?? deps.models.first ?? "mock"
        try deps.checkModel(model)
        let title = try title.map(deps.checkTitle) ?? ChatSession.defaultTitle
        if let projectID, try await deps.projects.find(id: projectID, ownerID: principal.user.id) == nil {
            throw DomainError.notFound("project")
        }
        try deps.ownership.check(try await deps.sessions.count(ownerID: principal.user.id), below: deps.ownership.sessionsPerUser,
                                 tier: "sessions", what: "sessions")
        let now = deps.clock.now()
        let session = ChatSession(id: ChatSession.ID(deps.ids.newUUID()), ownerID: principal.user.id, projectID: projectID,
                                  title: title, model: model, systemPrompt: try systemPrompt.flatMap(deps.checkSystemPrompt), createdAt: now, updatedAt: now)
        try await deps.sessions.create(session)
        return session
    }
}

public struct ListSessions: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, projectID: Project.ID? = nil, limit: Int, cursor: String?) async throws -> Page<ChatSession> {
        if let projectID, try await deps.projects.find(id: projectID, ownerID: principal.user.id) == nil { throw DomainError.notFound("project") }
        return try await deps.sessions.list(ownerID: principal.user.id, projectID: projectID, limit: limit, cursor: cursor)
    }
}

public struct GetSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, id: ChatSession.ID) async throws -> ChatSession {
        try await deps.ownSession(id, of: principal)
    }
}

/// Renames a session, moves it to another model, or switches its active branch (to the path
/// through a message, down to the newest leaf under it).
public struct UpdateSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    /// `project`: nil leaves it; `.some(nil)` takes the session out of its project.
    public func callAsFunction(_ principal: Principal, id: ChatSession.ID, title: String?, model: String?,
                               activeLeafID: Message.ID? = nil, project: Project.ID?? = nil, systemPrompt: String?? = nil) async throws -> ChatSession {
        var session = try await deps.ownSession(id, of: principal)
        if let systemPrompt { session.systemPrompt = try systemPrompt.flatMap(deps.checkSystemPrompt) }
        if let project {
            if let target = project, try await deps.projects.find(id: target, ownerID: principal.user.id) == nil { throw DomainError.notFound("project") }
            session.projectID = project
        }
        if let title { session.title = try deps.checkTitle(title) }
        if let model {
            try deps.checkModel(model)
            session.model = model
        }
        if let activeLeafID {
            // The answer being generated would end off the active path.
            if deps.turns.holds(session: id) { throw DomainError.turnInProgress }
            guard let leaf = try await deps.messages.activate(activeLeafID, sessionID: id) else { throw DomainError.notFound("message") }
            session.activeLeafID = leaf
        }
        session.updatedAt = deps.clock.now()
        try await deps.sessions.update(session)
        return session
    }
}

public struct DeleteSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, id: ChatSession.ID) async throws {
        guard try await deps.sessions.delete(id: id, ownerID: principal.user.id) else { throw DomainError.notFound("session") }
        // An answer still being generated has nowhere to go: stop it (its usage is still recorded).
        deps.turns.turn(forSession: id)?.stop(.requested)
    }
}

/// A session's active path, newest first, each message with its siblings.
public struct ListMessages: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, limit: Int, cursor: String?) async throws -> Page<PathMessage> {
        _ = try await deps.ownSession(sessionID, of: principal)
        return try await deps.messages.list(sessionID: sessionID, limit: limit, cursor: cursor)
    }
}

/// A new session holding a copy of the path from the root to one message (that message
/// included), as a single path.
public struct ForkSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, through messageID: Message.ID) async throws -> ChatSession {
        let source = try await deps.ownSession(sessionID, of: principal)
        let history = try await deps.messages.path(to: messageID, sessionID: sessionID, count: nil)
        guard history.last?.id == messageID else { throw DomainError.notFound("message") }
        try deps.ownership.check(try await deps.sessions.count(ownerID: principal.user.id), below: deps.ownership.sessionsPerUser,
                                 tier: "sessions", what: "sessions")
        let now = deps.clock.now()
        let title = source.title.count > 193 ? String(source.title.prefix(193)) + " (fork)" : source.title + " (fork)"
        var fork = ChatSession(id: ChatSession.ID(deps.ids.newUUID()), ownerID: principal.user.id, projectID: source.projectID,
                               title: title, model: source.model, createdAt: now, updatedAt: now)
        var copies: [Message] = []
        for (index, message) in history.enumerated() {
            // An answer still being generated is copied as it stands, and ends there.
            copies.append(Message(id: Message.ID(deps.ids.newUUID()), sessionID: fork.id, position: index + 1, parentID: copies.last?.id,
                                  depth: index, role: message.role, content: message.content,
                                  status: message.status == .streaming ? .interrupted : message.status,
                                  finishReason: message.finishReason, usage: message.usage, createdAt: message.createdAt, updatedAt: now))
        }
        fork.activeLeafID = copies.last?.id
        try await deps.sessions.create(fork, messages: copies)
        return fork
    }
}

/// A whole conversation for export: every message of its tree in creation order, or only its
/// active path, oldest first.
public struct ExportSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, activePathOnly: Bool) async throws -> (ChatSession, [Message]) {
        let session = try await deps.ownSession(sessionID, of: principal)
        if activePathOnly { return (session, try await deps.messages.path(to: nil, sessionID: sessionID, count: nil)) }
        return (session, try await deps.messages.all(sessionID: sessionID))
    }
}

/// Deletes a message with every message under it (its replies, their other versions, …).
public struct DeleteMessages: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, messageID: Message.ID) async throws {
        _ = try await deps.ownSession(sessionID, of: principal)
        if deps.turns.holds(session: sessionID) { throw DomainError.turnInProgress }
        guard try await deps.messages.deleteSubtree(messageID, sessionID: sessionID) else { throw DomainError.notFound("message") }
    }
}

/// A session's whole tree: ids, parents, roles, statuses and times, in creation order, paged;
/// contents on request.
public struct GetTree: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, limit: Int, cursor: String?,
                               withContent: Bool) async throws -> (ChatSession, Page<Message>) {
        let session = try await deps.ownSession(sessionID, of: principal)
        return (session, try await deps.messages.tree(sessionID: sessionID, limit: limit, cursor: cursor, withContent: withContent))
    }
}

/// Every session of the caller, each with its whole tree, one after the other (backup, and a
/// person's request for their data).
public struct ExportAccount: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, each: (ChatSession, [Message]) async throws -> Void) async throws {
        var cursor: String?
        repeat {
            let page = try await deps.sessions.list(ownerID: principal.user.id, projectID: nil, limit: 50, cursor: cursor)
            for session in page.items { try await each(session, try await deps.messages.all(sessionID: session.id)) }
            cursor = page.nextCursor
        } while cursor != nil
    }
}
