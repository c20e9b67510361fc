import ChatCore
import FoundationEssentials

/// `POST /v1/sessions/import`: a session as `GET /v1/sessions/{id}/export?format=json` wrote
/// it, or an account as `GET /v1/users/me/export` wrote it (`sessions`, each of that shape).
/// An export made before sessions were trees has no `format` and no parents: its messages
/// are one path in their order.
struct ParleyImportBody: Decodable {
    struct Session: Decodable {
        let title: String?
        let model: String?
        let activeLeafId: String?
        let createdAt: String?
        let systemPrompt: String?
    }

    struct Usage: Decodable {
        let promptTokens: Int
        let completionTokens: Int
        let estimated: Bool?
    }

    struct Entry: Decodable {
        let id: String
        let parentId: String?
        let role: String
        let content: String
        let status: String?
        let finishReason: String?
        let usage: Usage?
        let createdAt: String?
    }

    struct Export: Decodable {
        let format: String?
        let session: Session
        let messages: [Entry]
    }

    let single: Export?
    let sessions: [Export]?

    enum CodingKeys: String, CodingKey {
        case sessions
    }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.sessions) {
            sessions = try c.decode([Export].self, forKey: .sessions)
            single = nil
        } else {
            single = try Export(from: decoder)
            sessions = nil
        }
    }

    /// The conversations it holds, or the 422 naming the first field that is not valid.
    func conversations() throws -> [ImportedSession] {
        let exports = single.map { [$0] } ?? sessions ?? []
        return try exports.enumerated().map { index, export in
            let at = single == nil ? "sessions[\(index)]." : ""
            var previous: String?
            let entries = try export.messages.enumerated().map { i, entry in
                guard let role = Message.Role(rawValue: entry.role) else {
                    throw JSONBody.validation("\(at)messages[\(i)].role", "must be user, assistant or system")
                }
                guard let status = Message.Status(rawValue: entry.status ?? "complete") else {
                    throw JSONBody.validation("\(at)messages[\(i)].status", "must be complete, streaming, interrupted or failed")
                }
                let createdAt = try entry.createdAt.map { text in
                    guard let date = Timestamp.parse(text) else { throw JSONBody.validation("\(at)messages[\(i)].created_at", "must be an RFC 3339 timestamp") }
                    return date
                }
                // Before trees, an export was one path in order.
                let parent = export.format == nil ? previous : entry.parentId
                previous = entry.id
                return ImportedSession.Entry(
                    sourceID: entry.id, parentSourceID: parent, role: role, content: entry.content, status: status, finishReason: entry.finishReason,
                    usage: entry.usage.map { TokenUsage(promptTokens: $0.promptTokens, completionTokens: $0.completionTokens, estimated: $0.estimated ?? false) },
                    createdAt: createdAt
                )
            }
            var imported = ImportedSession(title: export.session.title, model: export.session.model,
                                           createdAt: export.session.createdAt.flatMap(Timestamp.parse),
                                           messages: entries, activeLeafSourceID: export.format == nil ? nil : export.session.activeLeafId)
            imported.systemPrompt = export.session.systemPrompt
            return imported
        }
    }
}

/// `POST /v1/sessions/import?format=openai`: `conversations.json` from a ChatGPT data export,
/// an array of conversations (one conversation alone is accepted too). Each holds its messages
/// as a `mapping` of nodes, each naming its parent (and children), and `current_node`, the end
/// of the branch last shown. Only user and assistant messages with text are kept (system and
/// tool messages, empty placeholders and non-text parts are left out); what they lead to is
/// attached to the nearest message kept above them, so branches survive.
struct OpenAIConversationsBody: Decodable {
    struct Conversation: Decodable {
        let title: String?
        let createTime: Double?
        let mapping: [String: Node]
        let currentNode: String?
        let defaultModelSlug: String?
    }

    struct Node: Decodable {
        let message: NodeMessage?
        let parent: String?
    }

    struct NodeMessage: Decodable {
        struct Author: Decodable {
            let role: String
        }

        struct Content: Decodable {
            let contentType: String?
            let parts: [Part]?
        }

        let author: Author
        let createTime: Double?
        let content: Content?
        let status: String?
    }

    /// A part of a message's content: text, or something else (an image, a file), left out.
    enum Part: Decodable {
        case text(String)
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let text = try? c.decode(String.self) { self = .text(text) } else { self = .other }
        }
    }

    let conversations: [Conversation]

    init(from decoder: any Decoder) throws {
        if let many = try? [Conversation](from: decoder) {
            conversations = many
        } else {
            conversations = [try Conversation(from: decoder)]
        }
    }

    func sessions() -> [ImportedSession] {
        conversations.map { conversation in
            let mapping = conversation.mapping
            /// The nearest kept message at or above `id`.
            func kept(_ id: String?) -> String? {
                var current = id
                var steps = 0
                while let node = current, steps <= mapping.count {
                    if text(of: mapping[node]) != nil { return node }
                    current = mapping[node]?.parent
                    steps += 1
                }
                return nil
            }
            // Replies from the parent links (the ones kept), oldest first.
            var replies: [String?: [String]] = [:]
            for (id, node) in mapping {
                replies[node.parent.flatMap { mapping[$0] == nil ? nil : $0 }, default: []].append(id)
            }
            func created(_ id: String) -> Double { mapping[id]?.message?.createTime ?? 0 }
            for key in replies.keys { replies[key]?.sort { (created($0), $0) < (created($1), $1) } }
            var entries: [ImportedSession.Entry] = []
            // Parents before replies: walk down from the roots.
            var stack = Array((replies[nil] ?? []).reversed())
            var visited = Set<String>()
            while let id = stack.popLast() {
                guard visited.insert(id).inserted, let node = mapping[id] else { continue }
                if let message = node.message, let content = text(of: node) {
                    let role: Message.Role = message.author.role == "user" ? .user : .assistant
                    let interrupted = message.status.map { $0 != "finished_successfully" } ?? false
                    entries.append(ImportedSession.Entry(sourceID: id, parentSourceID: kept(node.parent), role: role, content: content,
                                                         status: role == .assistant && interrupted ? .interrupted : .complete,
                                                         createdAt: message.createTime.map { Date(timeIntervalSince1970: $0) }))
                }
                stack += (replies[id] ?? []).reversed()
            }
            return ImportedSession(title: conversation.title, model: conversation.defaultModelSlug,
                                   createdAt: conversation.createTime.map { Date(timeIntervalSince1970: $0) }, messages: entries,
                                   activeLeafSourceID: kept(conversation.currentNode))
        }
    }

    /// The text of a user or assistant message, or nil when the node is not one to keep.
    private func text(of node: Node?) -> String? {
        guard let message = node?.message, message.author.role == "user" || message.author.role == "assistant" else { return nil }
        let parts = message.content?.parts ?? []
        let text = parts.compactMap { if case .text(let text) = $0 { text } else { nil } }.joined(separator: "\n")
        return text.allSatisfy(\.isWhitespace) ? nil : text
    }
}
