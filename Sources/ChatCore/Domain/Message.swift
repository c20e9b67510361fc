public import FoundationEssentials

/// Token counts of one turn; `estimated` when the upstream sent none and they were counted
/// from the delivered text.
public struct TokenUsage: Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var estimated: Bool

    public init(promptTokens: Int, completionTokens: Int, estimated: Bool = false) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.estimated = estimated
    }
}

/// One message of a session. A session's messages form a tree: `parentID` is the message it
/// follows (nil for a root), `depth` its distance from the root. `position` orders a session's
/// messages by creation (1, 2, 3, …), which also orders siblings: timestamps can tie,
/// positions cannot.
public struct Message: Sendable, Equatable {
    public typealias ID = Identifier<Message>

    public enum Role: String, Sendable, CaseIterable {
        case system, user, assistant
    }

    /// An assistant message is `streaming` while generated, then ends `complete`,
    /// `interrupted` (stop, shutdown, crash) or `failed` (upstream error) with what it has.
    public enum Status: String, Sendable, CaseIterable {
        case complete, streaming, interrupted, failed
    }

    public let id: ID
    public let sessionID: ChatSession.ID
    public var position: Int
    public var parentID: ID?
    public var depth: Int
    public let role: Role
    public var content: String
    public var status: Status
    public var finishReason: String?
    public var usage: TokenUsage?
    public let createdAt: Date
    public var updatedAt: Date

    public init(id: ID, sessionID: ChatSession.ID, position: Int = 0, parentID: ID? = nil, depth: Int = 0, role: Role, content: String,
                status: Status, finishReason: String? = nil, usage: TokenUsage? = nil, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.sessionID = sessionID
        self.position = position
        self.parentID = parentID
        self.depth = depth
        self.role = role
        self.content = content
        self.status = status
        self.finishReason = finishReason
        self.usage = usage
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A message on a session's active path, with where it stands among its siblings (the other
/// versions of it: regenerated answers, edited messages), so a client can offer "2 of 3".
public struct PathMessage: Sendable, Equatable {
    public let message: Message
    /// How many messages share its parent, itself included.
    public let siblings: Int
    /// Its place among them, from 0, in creation order.
    public let siblingIndex: Int

    public init(message: Message, siblings: Int, siblingIndex: Int) {
        self.message = message
        self.siblings = siblings
        self.siblingIndex = siblingIndex
    }
}
