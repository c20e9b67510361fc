public import FoundationEssentials

/// A conversation: its owner, optional project, title and the model it talks to.
public struct ChatSession: Sendable, Equatable {
    public typealias ID = Identifier<ChatSession>

    public let id: ID
    public let ownerID: User.ID
    public var projectID: Project.ID?
    public var title: String
    public var model: String
    public let createdAt: Date
    public var updatedAt: Date

    public init(id: ID, ownerID: User.ID, projectID: Project.ID?, title: String, model: String, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.ownerID = ownerID
        self.projectID = projectID
        self.title = title
        self.model = model
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    /// The title of a session created without one, until its first message names it.
    public static let defaultTitle = "New chat"

    /// A title from a session's first message: its first line with runs of white space made
    /// one space, cut at 60 characters.
    public static func title(fromFirstMessage content: String) -> String {
        let firstLine = content.split(whereSeparator: \.isNewline).first { !$0.allSatisfy(\.isWhitespace) } ?? ""
        let words = firstLine.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        guard !words.isEmpty else { return defaultTitle }
        return words.count > 60 ? String(words.prefix(59)) + "…" : words
    }
}

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

/// What one turn cost, recorded for every turn (quotas and reporting).
public struct UsageEvent: Sendable, Equatable {
    public typealias ID = Identifier<UsageEvent>

    public let id: ID
    public let userID: User.ID
    public let sessionID: ChatSession.ID?
    public let model: String
    public let usage: TokenUsage
    public let latencyMilliseconds: Int
    public let at: Date

    public init(id: ID, userID: User.ID, sessionID: ChatSession.ID?, model: String, usage: TokenUsage, latencyMilliseconds: Int, at: Date) {
        self.id = id
        self.userID = userID
        self.sessionID = sessionID
        self.model = model
        self.usage = usage
        self.latencyMilliseconds = latencyMilliseconds
        self.at = at
    }
}
