import ChatCore
import FoundationEssentials

struct ProjectBody: Decodable {
    let name: String?
    let description: String?
}

struct PromptBody: Decodable {
    let text: String?
    let position: Int?
}

struct ProjectDTO: Encodable {
    let id: String
    let name: String
    let description: String?
    let createdAt: Date
    let updatedAt: Date

    init(_ p: Project) {
        id = p.id.description
        name = p.name
        description = p.description
        createdAt = p.createdAt
        updatedAt = p.updatedAt
    }
}

struct PromptDTO: Encodable {
    let id: String
    let projectId: String
    let text: String
    let position: Int
    let createdAt: Date

    init(_ p: Prompt) {
        id = p.id.description
        projectId = p.projectID.description
        text = p.text
        position = p.position
        createdAt = p.createdAt
    }
}
