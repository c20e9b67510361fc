public import FoundationEssentials

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
