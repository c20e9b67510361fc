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
    /// Creates `session` holding `messages` (already numbered from 1, parents and depths set,
    /// every parent before its replies), atomically; `session.activeLeafID` names one of them.
    func create(_ session: ChatSession, messages: [Message]) async throws
    func find(id: ChatSession.ID, ownerID: User.ID) async throws -> ChatSession?
    /// Newest activity first.
    /// Only those of `projectID` when given.
    func list(ownerID: User.ID, projectID: Project.ID?, limit: Int, cursor: String?) async throws -> Page<ChatSession>
    func count(ownerID: User.ID) async throws -> Int
    func update(_ session: ChatSession) async throws
    /// Deletes the session with its messages. False if it is not the owner's.
    func delete(id: ChatSession.ID, ownerID: User.ID) async throws -> Bool
}

/// The messages of sessions: a tree per session, with one active path from a root to the
/// session's active leaf.
public protocol MessageRepository: Sendable {
    /// Appends after the session's active leaf (the next position, that parent and depth
    /// assigned and returned in the message) and makes it the active leaf.
    func append(_ message: Message) async throws -> Message
    func find(id: Message.ID, sessionID: ChatSession.ID) async throws -> Message?
    /// The active path, newest first, each message with its siblings; the cursor is opaque.
    func list(sessionID: ChatSession.ID, limit: Int, cursor: String?) async throws -> Page<PathMessage>
    /// The last `count` messages (all with nil) of the path from the root to `id`, or to the
    /// active leaf when `id` is nil, oldest first: the context sent upstream, fork, export.
    func path(to id: Message.ID?, sessionID: ChatSession.ID, count: Int?) async throws -> [Message]
    /// The session's latest answer still being generated, by whichever instance.
    func streaming(sessionID: ChatSession.ID) async throws -> Message?
    /// Every message of the session, the whole tree, in creation order (export).
    func all(sessionID: ChatSession.ID) async throws -> [Message]
    /// The whole tree in creation order, paged; contents left empty unless `withContent`.
    func tree(sessionID: ChatSession.ID, limit: Int, cursor: String?, withContent: Bool) async throws -> Page<Message>
    /// Makes the path through `id` the active one: from `id` down through the newest reply at
    /// each step to a leaf, which becomes the active leaf and is returned; nil if `id` is not a
    /// message of the session. `DomainError.turnInProgress` while an answer of the session is
    /// being generated (it would end off the active path).
    func activate(_ id: Message.ID, sessionID: ChatSession.ID) async throws -> Message.ID?
    /// Deletes `id` with everything under it; false if it is not a message of the session,
    /// `DomainError.turnInProgress` if an answer in it is being generated. If the active leaf
    /// was among them, the path through the deleted message's parent becomes active (through
    /// the newest remaining root if it was a root; none if nothing remains).
    func deleteSubtree(_ id: Message.ID, sessionID: ChatSession.ID) async throws -> Bool
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

/// Full-text search over one user's messages.
public protocol MessageSearch: Sendable {
    /// Messages of `ownerID`'s sessions, on every branch, holding every term of `query`, best
    /// match first; answers still being generated are not found until they end. The cursor is
    /// opaque.
    func search(_ query: SearchQuery, ownerID: User.ID, limit: Int, cursor: String?) async throws -> Page<SearchHit>
}

public protocol UsageRepository: Sendable {
    func record(_ event: UsageEvent) async throws
    /// Tokens (prompt + completion) the user used since `since`.
    func tokensUsed(userID: User.ID, since: Date) async throws -> Int
    /// The user's usage from `from` until before `until`, per UTC day and model, by day then model.
    func daily(userID: User.ID, from: Date, until: Date) async throws -> [DailyUsage]
    /// Everyone's usage from `from` until before `until`, per user and model, the most tokens
    /// first; the cursor is opaque.
    func byUser(from: Date, until: Date, limit: Int, cursor: String?) async throws -> Page<UserUsage>
    /// Everyone's usage from `from` until before `until`, per model.
    func byModel(from: Date, until: Date) async throws -> [ModelUsage]
}

