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

/// One message of a session. `position` orders a session's messages (1, 2, 3, …): timestamps
/// can tie, positions cannot.
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
    public let role: Role
    public var content: String
    public var status: Status
    public var finishReason: String?
    public var usage: TokenUsage?
    public let createdAt: Date
    public var updatedAt: Date

    public init(id: ID, sessionID: ChatSession.ID, position: Int = 0, role: Role, content: String, status: Status,
                finishReason: String? = nil, usage: TokenUsage? = nil, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.sessionID = sessionID
        self.position = position
        self.role = role
        self.content = content
        self.status = status
        self.finishReason = finishReason
        self.usage = usage
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}
