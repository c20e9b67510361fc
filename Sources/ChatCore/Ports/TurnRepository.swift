public import FoundationEssentials

/// What a send writes before the upstream is called: the user's message, the assistant's
/// `streaming` placeholder, the session's new title and activity time, and the idempotency key.
/// Where in a session's tree a turn goes.
public enum TurnPlacement: Sendable, Equatable {
    /// A new user message after the session's active leaf (a plain send).
    case activeLeaf
    /// A new user message after `parent`, an answer, or as a new first message when nil: an
    /// edit is a send after the parent of the message it edits.
    case after(Message.ID?)
    /// Another answer to the user message that this answer answers: regenerate.
    case regenerate(Message.ID)
}

public struct TurnStart: Sendable {
    /// The new user message (for `.regenerate`, unused: the turn answers an existing one).
    public var userMessage: Message
    public var assistantMessage: Message
    public var placement: TurnPlacement = .activeLeaf
    /// Given to the session if this is its first message and it still has `defaultTitle`.
    public var firstMessageTitle: String
    public var defaultTitle: String
    public var idempotency: IdempotencyRecord?
    /// The instance that generates the answer, and until when its lease holds.
    public var ownerInstance: String
    public var leaseUntil: Date
    /// When given, the session must be this user's (else `DomainError.notFound`).
    public var ownerID: User.ID?

    public init(userMessage: Message, assistantMessage: Message, firstMessageTitle: String, defaultTitle: String, idempotency: IdempotencyRecord?,
                ownerInstance: String = "local", leaseUntil: Date = .distantFuture) {
        self.userMessage = userMessage
        self.assistantMessage = assistantMessage
        self.firstMessageTitle = firstMessageTitle
        self.defaultTitle = defaultTitle
        self.idempotency = idempotency
        self.ownerInstance = ownerInstance
        self.leaseUntil = leaseUntil
    }
}

/// An `Idempotency-Key` of a send and the turn it started.
public struct IdempotencyRecord: Sendable, Equatable {
    public let userID: User.ID
    public let key: String
    /// Tells a retry of the same request from another request reusing the key.
    public let requestHash: String
    public let sessionID: ChatSession.ID
    public let userMessageID: Message.ID
    public let assistantMessageID: Message.ID
    public let createdAt: Date

    public init(userID: User.ID, key: String, requestHash: String, sessionID: ChatSession.ID,
                userMessageID: Message.ID, assistantMessageID: Message.ID, createdAt: Date) {
        self.userID = userID
        self.key = key
        self.requestHash = requestHash
        self.sessionID = sessionID
        self.userMessageID = userMessageID
        self.assistantMessageID = assistantMessageID
        self.createdAt = createdAt
    }
}

/// How `begin` ended: the turn's messages were written (`user` is the existing one when it
/// regenerates; `session` as it is after the turn began), or the key had already started a turn.
public enum TurnBeginning: Sendable, Equatable {
    case started(user: Message, assistant: Message, session: ChatSession)
    case alreadyStarted(IdempotencyRecord)
}

/// The writes of a turn that span several rows, each in one transaction.
public protocol TurnRepository: Sendable {
    /// The turn `key` started for the user, if it was recorded at or after `since`.
    func idempotencyRecord(userID: User.ID, key: String, since: Date) async throws -> IdempotencyRecord?
    /// Places the turn in the session's tree as `placement` says (the user message, unless it
    /// regenerates, then the answer, at the session's next positions), makes the answer the
    /// active leaf, retitles a fresh session, touches its activity time and records the key,
    /// atomically. A parent that is not an answer of the session is `DomainError.notFound` or
    /// `.validation`; a regenerated message that is not an answer likewise. A key recorded since
    /// `keysValidSince` (by a concurrent request) makes it write nothing and answer `.alreadyStarted`.
    func begin(_ start: TurnStart, keysValidSince: Date) async throws -> TurnBeginning
    /// The end of a turn in one transaction: the answer's content, status and usage, and the
    /// usage event that charges it.
    func finish(_ answer: Message, usage: UsageEvent) async throws
    /// Forgets keys recorded before `before`; returns how many.
    func purgeIdempotencyKeys(before: Date) async throws -> Int
}
