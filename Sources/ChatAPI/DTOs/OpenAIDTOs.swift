import ChatCore
import FoundationEssentials
import HTTPServer

/// `POST /openai/v1/chat/completions` as OpenAI's API defines it, limited to what parley can
/// honour. A member outside that list is refused (400 naming it), never silently dropped: a
/// client that asks for tools or a response format must not believe it got them.
struct OpenAIChatRequest: Decodable {
    struct Part: Decodable {
        let type: String
        let text: String?
    }

    struct Message: Decodable {
        let role: String
        let content: Content

        enum Content: Decodable {
            case text(String)
            case parts([Part])

            init(from decoder: any Decoder) throws {
                let c = try decoder.singleValueContainer()
                if let text = try? c.decode(String.self) {
                    self = .text(text)
                } else {
                    self = .parts(try c.decode([Part].self))
                }
            }
        }

        static let allowed: Set<String> = ["role", "content"]

        enum CodingKeys: String, CodingKey { case role, content }

        init(from decoder: any Decoder) throws {
            try OpenAIChatRequest.refuseUnknown(in: decoder, allowed: Self.allowed)
            let c = try decoder.container(keyedBy: CodingKeys.self)
            role = try c.decode(String.self, forKey: .role)
            content = try c.decode(Content.self, forKey: .content)
        }
    }

    struct StreamOptions: Decodable {
        let includeUsage: Bool?

        enum CodingKeys: String, CodingKey { case includeUsage }

        init(from decoder: any Decoder) throws {
            try OpenAIChatRequest.refuseUnknown(in: decoder, allowed: ["includeUsage"])
            includeUsage = try decoder.container(keyedBy: CodingKeys.self).decodeIfPresent(Bool.self, forKey: .includeUsage)
        }
    }

    /// A string or a list of strings.
    enum Stop: Decodable {
        case one(String)
        case many([String])

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let one = try? c.decode(String.self) { self = .one(one) } else { self = .many(try c.decode([String].self)) }
        }

        var sequences: [String] {
            switch self {
            case .one(let one): [one]
            case .many(let many): many
            }
        }
    }

    let model: String
    let messages: [Message]
    let maxTokens: Int?
    let maxCompletionTokens: Int?
    let temperature: Double?
    let topP: Double?
    let stop: Stop?
    let user: String?
    let stream: Bool?
    let streamOptions: StreamOptions?
    let n: Int?

    /// The members parley honours, as the decoder names them (camelCase).
    static let allowed: Set<String> = ["model", "messages", "maxTokens", "maxCompletionTokens", "temperature", "topP", "stop", "user",
                                       "stream", "streamOptions", "n"]

    enum CodingKeys: String, CodingKey {
        case model, messages, maxTokens, maxCompletionTokens, temperature, topP, stop, user, stream, streamOptions, n
    }

    init(from decoder: any Decoder) throws {
        try Self.refuseUnknown(in: decoder, allowed: Self.allowed)
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decode(String.self, forKey: .model)
        messages = try c.decode([Message].self, forKey: .messages)
        maxTokens = try c.decodeIfPresent(Int.self, forKey: .maxTokens)
        maxCompletionTokens = try c.decodeIfPresent(Int.self, forKey: .maxCompletionTokens)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        stop = try c.decodeIfPresent(Stop.self, forKey: .stop)
        user = try c.decodeIfPresent(String.self, forKey: .user)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        streamOptions = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        n = try c.decodeIfPresent(Int.self, forKey: .n)
    }

    struct AnyKey: CodingKey {
        let stringValue: String
        var intValue: Int? { nil }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A member that is not in `allowed` (after the decoder's snake_case conversion): a 400
    /// naming it as the client wrote it.
    static func refuseUnknown(in decoder: any Decoder, allowed: Set<String>) throws {
        let keys = try decoder.container(keyedBy: AnyKey.self).allKeys
        if let unknown = keys.first(where: { !allowed.contains($0.stringValue) }) {
            let path = (decoder.codingPath + [unknown]).map { key in key.intValue.map { "[\($0)]" } ?? JSONBody.snakeCase(key.stringValue) }
            let name = path.reduce("") { $0.isEmpty || $1.hasPrefix("[") ? $0 + $1 : $0 + "." + $1 }
            var problem = Problem(.badRequest, code: "unsupported_parameter", detail: "\(name) is not supported by this server")
            problem.errors = [(name, "is not supported by this server")]
            throw problem
        }
    }

    /// The command, or the first member that cannot be honoured (a validation error naming it).
    func command(session: ChatCompletionCommand.Session) throws -> ChatCompletionCommand {
        if let n, n != 1 { throw JSONBody.validation("n", "must be 1: parley generates one answer per request") }
        if maxTokens != nil, maxCompletionTokens != nil, maxTokens != maxCompletionTokens {
            throw JSONBody.validation("max_completion_tokens", "must equal max_tokens when both are given")
        }
        if streamOptions != nil, stream != true { throw JSONBody.validation("stream_options", "is only for streamed requests (stream: true)") }
        var context: [ContextMessage] = []
        for (index, message) in messages.enumerated() {
            guard let role = ChatCore.Message.Role(rawValue: message.role) else {
                throw JSONBody.validation("messages[\(index)].role", "must be system, user or assistant")
            }
            let text: String
            switch message.content {
            case .text(let string):
                text = string
            case .parts(let parts):
                if let other = parts.firstIndex(where: { $0.type != "text" || $0.text == nil }) {
                    throw JSONBody.validation("messages[\(index)].content[\(other)]", "must be a text part ({\"type\": \"text\", \"text\": …}): parley's models read text only")
                }
                text = parts.compactMap(\.text).joined()
            }
            context.append(ContextMessage(role: role, content: text))
        }
        return ChatCompletionCommand(model: model, messages: context, temperature: temperature, topP: topP, maxTokens: maxTokens ?? maxCompletionTokens,
                                     stop: stop?.sequences, session: session)
    }
}
