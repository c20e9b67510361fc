import ChatCore
import FoundationEssentials
import HTTPServer

struct CreateSessionBody: Decodable {
    let title: String?
    let model: String?
    let projectId: String?
}

struct UpdateSessionBody: Decodable {
    let title: String?
    let model: String?
}

struct ChatSessionDTO: Encodable {
    let id: String
    let title: String
    let model: String
    let projectId: String?
    let createdAt: Date
    let updatedAt: Date

    init(_ session: ChatSession) {
        id = session.id.description
        title = session.title
        model = session.model
        projectId = session.projectID?.description
        createdAt = session.createdAt
        updatedAt = session.updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, title, model, projectId, createdAt, updatedAt
    }

    // `project_id` is always present, null when the session has no project.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(title, forKey: .title)
        try c.encode(model, forKey: .model)
        try c.encode(projectId, forKey: .projectId)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(updatedAt, forKey: .updatedAt)
    }
}

struct MessageDTO: Encodable {
    struct Usage: Encodable {
        let promptTokens: Int
        let completionTokens: Int
        let estimated: Bool
    }
    let id: String
    let sessionId: String
    let role: String
    let content: String
    let status: String
    let finishReason: String?
    let usage: Usage?
    let createdAt: Date

    init(_ message: Message) {
        id = message.id.description
        sessionId = message.sessionID.description
        role = message.role.rawValue
        content = message.content
        status = message.status.rawValue
        finishReason = message.finishReason
        usage = message.usage.map { Usage(promptTokens: $0.promptTokens, completionTokens: $0.completionTokens, estimated: $0.estimated) }
        createdAt = message.createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, sessionId, role, content, status, finishReason, usage, createdAt
    }

    // `finish_reason` and `usage` are always present, null until the answer has them.
    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(sessionId, forKey: .sessionId)
        try c.encode(role, forKey: .role)
        try c.encode(content, forKey: .content)
        try c.encode(status, forKey: .status)
        try c.encode(finishReason, forKey: .finishReason)
        try c.encode(usage, forKey: .usage)
        try c.encode(createdAt, forKey: .createdAt)
    }
}

struct SendMessageBody: Decodable {
    let content: String
    let model: String?
    let temperature: Double?
    let maxTokens: Int?
}

struct ForkBody: Decodable {
    let messageId: String
}

/// `event: start`.
struct TurnStartDTO: Encodable {
    let userMessage: MessageDTO
    let assistantMessageId: String

    /// What `JSONBody.encoder` writes, without it (see `MessageDTO.json`).
    var json: String {
        "{\"assistant_message_id\":\(jsonQuoted(assistantMessageId)),\"user_message\":\(userMessage.json)}"
    }
}

/// `event: done` and the answer to a stop. `cached` only when the answer came from the cache;
/// `cut_at` when the reader resumed past what was stored (the answer ends there); `saved`
/// false while the database has not taken the answer yet (it will, with this content).
struct TurnEndDTO: Encodable {
    let message: MessageDTO
    var cached: Bool? = nil
    var cutAt: Int? = nil
    var saved: Bool? = nil

    /// What `JSONBody.encoder` writes, without it (see `MessageDTO.json`).
    var json: String {
        var out = (cached.map { "{\"cached\":\($0)," } ?? "{") + (cutAt.map { "\"cut_at\":\($0)," } ?? "") + "\"message\":\(message.json)"
        if let saved { out += ",\"saved\":\(saved)" }
        return out + "}"
    }
}

extension MessageDTO {
    /// The document `JSONBody.encoder` writes (keys sorted, snake_case), built directly: every
    /// streamed answer sends two, and the generic encoder (key conversion, sorting, a date
    /// strategy closure) was about 5% of a chat turn's CPU. `MessageDTOJSONTests` holds the two
    /// to the same JSON.
    var json: String {
        var out = "{\"content\":\(jsonQuoted(content)),\"created_at\":\(jsonQuoted(RFC3339.format(createdAt)))"
        out += ",\"finish_reason\":\(finishReason.map(jsonQuoted) ?? "null"),\"id\":\(jsonQuoted(id))"
        out += ",\"role\":\(jsonQuoted(role)),\"session_id\":\(jsonQuoted(sessionId)),\"status\":\(jsonQuoted(status)),\"usage\":"
        if let usage {
            out += "{\"completion_tokens\":\(usage.completionTokens),\"estimated\":\(usage.estimated),\"prompt_tokens\":\(usage.promptTokens)}"
        } else {
            out += "null"
        }
        return out + "}"
    }
}

/// The JSON answer to a send without `Accept: text/event-stream`.
struct CompletedTurnDTO: Encodable {
    let userMessage: MessageDTO
    let message: MessageDTO
    var cached: Bool? = nil
    /// false while the database has not taken the answer yet.
    var saved: Bool? = nil
}

/// A conversation as `GET /v1/sessions/{id}/export?format=json` writes it.
struct ExportDTO: Encodable {
    let session: ChatSessionDTO
    let messages: [MessageDTO]
}

/// `GET /v1/usage`: each limited tier of the caller's role (an admin has none).
struct UsageDTO: Encodable {
    let role: String
    let tiers: [TierDTO]
    /// The longest message the server accepts, in characters, so a client can refuse before sending.
    let maxMessageLength: Int
}

struct TierDTO: Encodable {
    let tier: String
    let limit: Int
    let used: Int
    let remaining: Int
    let resetAt: Date

    init(_ usage: TierUsage) {
        tier = usage.tier.rawValue
        limit = usage.limit
        used = usage.used
        remaining = usage.remaining
        resetAt = usage.resetAt
    }
}
