import ChatCore
import FoundationEssentials
import HTTPServer
import JSONText

struct CreateSessionBody: Decodable {
    let title: String?
    let model: String?
    let projectId: String?
    var systemPrompt: String? = nil
}

struct UpdateSessionBody: Decodable {
    let title: String?
    let model: String?
    let activeLeafId: String?
    /// Absent: left as it is; `null`: out of its project; an id: into that project.
    let projectId: String??
    /// Absent: left as it is; `null`: none.
    let systemPrompt: String??

    enum CodingKeys: String, CodingKey { case title, model, activeLeafId, projectId, systemPrompt }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        title = try c.decodeIfPresent(String.self, forKey: .title)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        activeLeafId = try c.decodeIfPresent(String.self, forKey: .activeLeafId)
        if !c.contains(.projectId) {
            projectId = nil
        } else if try c.decodeNil(forKey: .projectId) {
            projectId = .some(nil)
        } else {
            projectId = .some(try c.decode(String.self, forKey: .projectId))
        }
        if !c.contains(.systemPrompt) {
            systemPrompt = nil
        } else if try c.decodeNil(forKey: .systemPrompt) {
            systemPrompt = .some(nil)
        } else {
            systemPrompt = .some(try c.decode(String.self, forKey: .systemPrompt))
        }
    }
}

struct ChatSessionDTO: Encodable {
    let id: String
    let title: String
    let model: String
    @Nullable var projectId: String?
    @Nullable var activeLeafId: String?
    @Nullable var systemPrompt: String?
    let createdAt: Date
    let updatedAt: Date

    init(_ session: ChatSession) {
        id = session.id.description
        title = session.title
        model = session.model
        projectId = session.projectID?.description
        activeLeafId = session.activeLeafID?.description
        systemPrompt = session.systemPrompt
        createdAt = session.createdAt
        updatedAt = session.updatedAt
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
    @Nullable var parentId: String?
    let role: String
    let content: String
    let status: String
    @Nullable var finishReason: String?
    @Nullable var usage: Usage?
    let createdAt: Date
    /// On the active path only (`GET /v1/sessions/{id}/messages`): how many versions of this
    /// message there are and which one it is.
    var siblings: Int?
    var siblingIndex: Int?

    init(_ message: Message) {
        id = message.id.description
        sessionId = message.sessionID.description
        parentId = message.parentID?.description
        role = message.role.rawValue
        content = message.content
        status = message.status.rawValue
        finishReason = message.finishReason
        usage = message.usage.map { Usage(promptTokens: $0.promptTokens, completionTokens: $0.completionTokens, estimated: $0.estimated) }
        createdAt = message.createdAt
    }

    init(_ entry: PathMessage) {
        self.init(entry.message)
        siblings = entry.siblings
        siblingIndex = entry.siblingIndex
    }
}

struct SendMessageBody: Decodable {
    let content: String
    /// Absent: after the session's active leaf. A message id: after that answer. `null`: a new
    /// first message (an edit of the first message).
    let parent: TurnPlacement
    let model: String?
    let temperature: Double?
    let maxTokens: Int?

    enum CodingKeys: String, CodingKey {
        case content, parentId, model, temperature, maxTokens
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        content = try c.decode(String.self, forKey: .content)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        if !c.contains(.parentId) {
            parent = .activeLeaf
        } else if try c.decodeNil(forKey: .parentId) {
            parent = .after(nil)
        } else {
            // An id that names no message of the session is a 404, like any other.
            let text = try c.decode(String.self, forKey: .parentId)
            guard let id = Message.ID(text) else {
                throw DecodingError.dataCorruptedError(forKey: .parentId, in: c, debugDescription: "must be a message id or null")
            }
            parent = .after(id)
        }
    }
}

/// `POST /v1/sessions/{id}/messages/{mid}/regenerate`: all optional, as for a send.
struct RegenerateBody: Decodable {
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
        var out: [UInt8] = []
        out.reserveCapacity(userMessage.content.utf8.count + 512)
        out.append(contentsOf: #"{"assistant_message_id":"#.utf8)
        appendJSONQuoted(assistantMessageId, to: &out)
        out.append(contentsOf: #","user_message":"#.utf8)
        userMessage.appendJSON(to: &out)
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
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
        var out: [UInt8] = []
        out.reserveCapacity(message.content.utf8.count + 512)
        out.append(UInt8(ascii: "{"))
        if let cached { out.append(contentsOf: #""cached":\#(cached),"#.utf8) }
        if let cutAt { out.append(contentsOf: #""cut_at":\#(cutAt),"#.utf8) }
        out.append(contentsOf: #""message":"#.utf8)
        message.appendJSON(to: &out)
        if let saved { out.append(contentsOf: #","saved":\#(saved)"#.utf8) }
        out.append(UInt8(ascii: "}"))
        return String(decoding: out, as: UTF8.self)
    }
}

extension MessageDTO {
    /// The document `JSONBody.encoder` writes (keys sorted, snake_case), built directly: every
    /// streamed answer sends two, and the generic encoder (key conversion, sorting, a date
    /// strategy closure) was about 5% of a chat turn's CPU. `MessageDTOJSONTests` holds the two
    /// to the same JSON.
    var json: String {
        var out: [UInt8] = []
        out.reserveCapacity(content.utf8.count + 384)
        appendJSON(to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// The same document written into bytes, as the events that carry it are.
    func appendJSON(to out: inout [UInt8]) {
        func optional(_ text: String?) {
            if let text { appendJSONQuoted(text, to: &out) } else { out.append(contentsOf: "null".utf8) }
        }
        out.append(contentsOf: #"{"content":"#.utf8)
        appendJSONQuoted(content, to: &out)
        // A timestamp is digits and separators: nothing to escape.
        out.append(contentsOf: #","created_at":""#.utf8)
        out.append(contentsOf: Timestamp.format(createdAt).utf8)
        out.append(contentsOf: #"","finish_reason":"#.utf8)
        optional(finishReason)
        out.append(contentsOf: #","id":"#.utf8)
        appendJSONQuoted(id, to: &out)
        out.append(contentsOf: #","parent_id":"#.utf8)
        optional(parentId)
        out.append(contentsOf: #","role":"#.utf8)
        appendJSONQuoted(role, to: &out)
        out.append(contentsOf: #","session_id":"#.utf8)
        appendJSONQuoted(sessionId, to: &out)
        if let siblingIndex, let siblings { out.append(contentsOf: #","sibling_index":\#(siblingIndex),"siblings":\#(siblings)"#.utf8) }
        out.append(contentsOf: #","status":"#.utf8)
        appendJSONQuoted(status, to: &out)
        out.append(contentsOf: #","usage":"#.utf8)
        if let usage {
            out.append(contentsOf: #"{"completion_tokens":\#(usage.completionTokens),"estimated":\#(usage.estimated),"prompt_tokens":\#(usage.promptTokens)}}"#.utf8)
        } else {
            out.append(contentsOf: "null}".utf8)
        }
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

/// A conversation as `GET /v1/sessions/{id}/export?format=json` writes it: the session and
/// every message of its tree in creation order (each after its parent), which
/// `POST /v1/sessions/import` reads back.
struct ExportDTO: Encodable {
    let format = "parley.session.v1"
    let session: ChatSessionDTO
    let messages: [MessageDTO]
}

/// `GET /v1/sessions/{id}/tree`: the structure of the whole tree, paged in creation order.
struct TreeDTO: Encodable {
    struct Node: Encodable {
        let id: String
        @Nullable var parentId: String?
        let depth: Int
        let role: String
        let status: String
        let createdAt: Date
        let content: String?

        init(_ message: Message, withContent: Bool) {
            id = message.id.description
            parentId = message.parentID?.description
            depth = message.depth
            role = message.role.rawValue
            status = message.status.rawValue
            createdAt = message.createdAt
            content = withContent ? message.content : nil
        }
    }

    @Nullable var activeLeafId: String?
    let items: [Node]
    @Nullable var nextCursor: String?
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
