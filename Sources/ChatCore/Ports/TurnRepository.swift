public import FoundationEssentials

/// What a send writes before the upstream is called: the user's message, the assistant's
/// `streaming` placeholder, the session's new title and activity time, and the idempotency key.
public struct TurnStart: Sendable {
    public var userMessage: Message
    public var assistantMessage: Message
    /// Given to the session if this is its first message and it still has `defaultTitle`.
    public var firstMessageTitle: String
    public var defaultTitle: String
    public var idempotency: IdempotencyRecord?
    /// The instance that generates the answer, and until when its lease holds.
    public var ownerInstance: String
    public var leaseUntil: Date

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

/// How `begin` ended: the two messages were written, or the key had already started a turn.
public enum TurnBeginning: Sendable, Equatable {
    case started(user: Message, assistant: Message)
    case alreadyStarted(IdempotencyRecord)
}

/// The writes of a turn that span several rows, each in one transaction.
public protocol TurnRepository: Sendable {
    /// The turn `key` started for the user, if it was recorded at or after `since`.
    func idempotencyRecord(userID: User.ID, key: String, since: Date) async throws -> IdempotencyRecord?
    /// Appends both messages at the session's next positions, retitles a fresh session,
    /// touches its activity time and records the key, atomically. A key recorded since
    /// `keysValidSince` (by a concurrent request) makes it write nothing and answer `.alreadyStarted`.
    func begin(_ start: TurnStart, keysValidSince: Date) async throws -> TurnBeginning
    /// Forgets keys recorded before `before`; returns how many.
    func purgeIdempotencyKeys(before: Date) async throws -> Int
}
