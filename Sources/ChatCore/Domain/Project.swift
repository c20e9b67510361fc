public import FoundationEssentials

/// A group of chat sessions with the system prompts applied to them.
public struct Project: Sendable, Equatable {
    public typealias ID = Identifier<Project>

    public let id: ID
    public let ownerID: User.ID
    public var name: String
    public var description: String?
    public let createdAt: Date
    public var updatedAt: Date

    public init(id: ID, ownerID: User.ID, name: String, description: String?, createdAt: Date, updatedAt: Date) {
        self.id = id
        self.ownerID = ownerID
        self.name = name
        self.description = description
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// A system prompt of a project, sent before the conversation in the order of `position`.
public struct Prompt: Sendable, Equatable {
    public typealias ID = Identifier<Prompt>

    public let id: ID
    public let projectID: Project.ID
    public var text: String
    public var position: Int
    public let createdAt: Date

    public init(id: ID, projectID: Project.ID, text: String, position: Int, createdAt: Date) {
        self.id = id
        self.projectID = projectID
        self.text = text
        self.position = position
        self.createdAt = createdAt
    }
}
