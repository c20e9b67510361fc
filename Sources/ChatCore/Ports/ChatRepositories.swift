public import FoundationEssentials

/// Projects and their prompts. Every read is scoped to the owner: another user's project is
/// simply not found.
public protocol ProjectRepository: Sendable {
    func create(_ project: Project) async throws
    func find(id: Project.ID, ownerID: User.ID) async throws -> Project?
    func list(ownerID: User.ID, limit: Int, cursor: String?) async throws -> Page<Project>
    func count(ownerID: User.ID) async throws -> Int
    func update(_ project: Project) async throws
    /// Deletes the project and its prompts; its sessions stay, detached. False if not the owner's.
    func delete(id: Project.ID, ownerID: User.ID) async throws -> Bool

    func addPrompt(_ prompt: Prompt) async throws
    func findPrompt(id: Prompt.ID) async throws -> Prompt?
    /// The project's prompts in `position` order.
    func prompts(projectID: Project.ID) async throws -> [Prompt]
    func updatePrompt(_ prompt: Prompt) async throws
    func deletePrompt(id: Prompt.ID, projectID: Project.ID) async throws -> Bool
}

/// Chat sessions, scoped to their owner.
public protocol ChatSessionRepository: Sendable {
    func create(_ session: ChatSession) async throws
    /// Creates `session` holding `messages` (already numbered from 1), atomically.
    func create(_ session: ChatSession, messages: [Message]) async throws
    func find(id: ChatSession.ID, ownerID: User.ID) async throws -> ChatSession?
    /// Newest activity first.
    func list(ownerID: User.ID, limit: Int, cursor: String?) async throws -> Page<ChatSession>
    func count(ownerID: User.ID) async throws -> Int
    func update(_ session: ChatSession) async throws
    /// Deletes the session with its messages. False if it is not the owner's.
    func delete(id: ChatSession.ID, ownerID: User.ID) async throws -> Bool
}

/// The messages of sessions.
public protocol MessageRepository: Sendable {
    /// Appends at the session's next position, which it assigns and returns in the message.
    func append(_ message: Message) async throws -> Message
    func find(id: Message.ID, sessionID: ChatSession.ID) async throws -> Message?
    /// Newest first; the cursor is opaque.
    func list(sessionID: ChatSession.ID, limit: Int, cursor: String?) async throws -> Page<Message>
    /// The last `count` messages, oldest first (the context sent upstream).
    func recent(sessionID: ChatSession.ID, count: Int) async throws -> [Message]
    /// The session's latest answer still being generated, by whichever instance.
    func streaming(sessionID: ChatSession.ID) async throws -> Message?
    /// Every message of the session, oldest first (export, fork).
    func all(sessionID: ChatSession.ID) async throws -> [Message]
    /// Writes content, status, finish reason, usage and update time (the end of a turn).
    func update(_ message: Message) async throws
    /// Answers still marked `streaming`, with their session's owner and model: all of them, or
    /// (with `lapsedBefore`) only those whose owner's lease ended before that time.
    func streamingAnswers(lapsedBefore: Date?) async throws -> [(message: Message, ownerID: User.ID, model: String)]
    /// Writes `message` only if its row is still `streaming` (a save that got there first
    /// wins) and, with `lapsedBefore`, its lease has lapsed; true if it was written.
    func updateIfStreaming(_ message: Message, lapsedBefore: Date?) async throws -> Bool
    /// A checkpoint of an answer being generated: its content so far, and its owner's lease
    /// extended to `leaseUntil`.
    func checkpoint(_ message: Message, leaseUntil: Date) async throws
    /// Extends the lease on an answer being generated (while its upstream is silent).
    func renewLease(of id: Message.ID, until: Date) async throws
}

public protocol UsageRepository: Sendable {
    func record(_ event: UsageEvent) async throws
    /// Tokens (prompt + completion) the user used since `since`.
    func tokensUsed(userID: User.ID, since: Date) async throws -> Int
}

