/// Starts a session. Its title is "New chat" until the first message names it.
public struct CreateSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, title: String?, model: String?, projectID: Project.ID?) async throws -> ChatSession {
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
                                  title: title, model: model, createdAt: now, updatedAt: now)
        try await deps.sessions.create(session)
        return session
    }
}

public struct ListSessions: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, limit: Int, cursor: String?) async throws -> Page<ChatSession> {
        try await deps.sessions.list(ownerID: principal.user.id, limit: limit, cursor: cursor)
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

/// Renames a session or moves it to another model.
public struct UpdateSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, id: ChatSession.ID, title: String?, model: String?) async throws -> ChatSession {
        var session = try await deps.ownSession(id, of: principal)
        if let title { session.title = try deps.checkTitle(title) }
        if let model {
            try deps.checkModel(model)
            session.model = model
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

/// A session's messages, newest first.
public struct ListMessages: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, limit: Int, cursor: String?) async throws -> Page<Message> {
        _ = try await deps.ownSession(sessionID, of: principal)
        return try await deps.messages.list(sessionID: sessionID, limit: limit, cursor: cursor)
    }
}

/// A new session holding a copy of another's history up to and including one message.
public struct ForkSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, through messageID: Message.ID) async throws -> ChatSession {
        let source = try await deps.ownSession(sessionID, of: principal)
        let history = try await deps.messages.all(sessionID: sessionID)
        guard let cut = history.firstIndex(where: { $0.id == messageID }) else { throw DomainError.notFound("message") }
        try deps.ownership.check(try await deps.sessions.count(ownerID: principal.user.id), below: deps.ownership.sessionsPerUser,
                                 tier: "sessions", what: "sessions")
        let now = deps.clock.now()
        let title = source.title.count > 193 ? String(source.title.prefix(193)) + " (fork)" : source.title + " (fork)"
        let fork = ChatSession(id: ChatSession.ID(deps.ids.newUUID()), ownerID: principal.user.id, projectID: source.projectID,
                               title: title, model: source.model, createdAt: now, updatedAt: now)
        let copies = history[...cut].enumerated().map { index, message in
            // An answer still being generated is copied as it stands, and ends there.
            Message(id: Message.ID(deps.ids.newUUID()), sessionID: fork.id, position: index + 1, role: message.role,
                    content: message.content, status: message.status == .streaming ? .interrupted : message.status,
                    finishReason: message.finishReason, usage: message.usage, createdAt: message.createdAt, updatedAt: now)
        }
        try await deps.sessions.create(fork, messages: copies)
        return fork
    }
}

/// A whole conversation, oldest message first, for export.
public struct ExportSession: Sendable {
    let deps: ChatDependencies

    public init(_ deps: ChatDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID) async throws -> (ChatSession, [Message]) {
        let session = try await deps.ownSession(sessionID, of: principal)
        return (session, try await deps.messages.all(sessionID: sessionID))
    }
}
