public import FoundationEssentials

/// A conversation: its owner, optional project, title and the model it talks to, and the end
/// of its active path (nil while it has no messages).
public struct ChatSession: Sendable, Equatable {
    public typealias ID = Identifier<ChatSession>

    public let id: ID
    public let ownerID: User.ID
    public var projectID: Project.ID?
    public var title: String
    public var model: String
    public var activeLeafID: Message.ID?
    /// Sent upstream as a system message after the deployment's and before the project's.
    public var systemPrompt: String?
    public let createdAt: Date
    public var updatedAt: Date

    public init(id: ID, ownerID: User.ID, projectID: Project.ID?, title: String, model: String, activeLeafID: Message.ID? = nil,
                systemPrompt: String? = nil, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.ownerID = ownerID
        self.projectID = projectID
        self.title = title
        self.model = model
        self.activeLeafID = activeLeafID
        self.systemPrompt = systemPrompt
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
