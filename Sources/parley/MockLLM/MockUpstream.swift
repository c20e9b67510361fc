import FoundationEssentials
import HTTPServer

/// The routes of `parley mock-llm`: the OpenAI chat-completions API, answered with a
/// deterministic reply that echoes the last user message, at a pace the caller picks.
///
/// Per-request controls (headers): `X-Mock-Tokens` (how many tokens, default 16) and
/// `X-Mock-Delay-Ms` (pause before each token, default 20).
enum MockUpstream {
    static let model = "mock-model"

    struct ChatRequest: Decodable {
        struct Message: Decodable {
            let role: String
            let content: String
        }
        let model: String?
        let messages: [Message]
        let stream: Bool?
    }

    static func register(on router: inout RouterBuilder) {
        router.get("/v1/models") { _ in
            json("{\"object\":\"list\",\"data\":[{\"id\":\"\(model)\",\"object\":\"model\",\"owned_by\":\"parley\"}]}")
        }
        router.post("/v1/chat/completions") { request in
            let chat: ChatRequest
            do {
                chat = try JSONDecoder().decode(ChatRequest.self, from: Data(request.body))
            } catch {
                return .problem(.badRequest, detail: "body is not a chat completion request: \(error)")
            }
            guard let count = headerInt(request, "X-Mock-Tokens", default: 16, max: 100_000),
                  let delay = headerInt(request, "X-Mock-Delay-Ms", default: 20, max: 60_000) else {
                return .problem(.badRequest, detail: "X-Mock-Tokens and X-Mock-Delay-Ms must be non-negative whole numbers")
            }
            let tokens = replyTokens(for: chat.messages.last { $0.role == "user" }?.content ?? "", count: count)
            let promptTokens = chat.messages.reduce(0) { $0 + max(1, $1.content.split(separator: " ").count) }
            if chat.stream == true {
                return streamed(tokens, delayMs: delay, promptTokens: promptTokens)
            }
            try await Task.sleep(for: .milliseconds(delay * tokens.count))
            let content = tokens.joined()
            return json("""
            {"id":"mock-1","object":"chat.completion","model":"\(model)","choices":[{"index":0,"message":{"role":"assistant","content":\(jsonQuoted(content))},"finish_reason":"stop"}],"usage":{"prompt_tokens":\(promptTokens),"completion_tokens":\(tokens.count),"total_tokens":\(promptTokens + tokens.count)}}
            """)
        }
    }

    /// The reply: the words of the user's message, cycled, each followed by a space.
    static func replyTokens(for message: String, count: Int) -> [String] {
        let words = message.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let source = words.isEmpty ? ["mock"] : words
        return (0..<count).map { source[$0 % source.count] + " " }
    }

    private static func streamed(_ tokens: [String], delayMs: Int, promptTokens: Int) -> Response {
        .eventStream { events in
            for token in tokens {
                if delayMs > 0 { try await Task.sleep(for: .milliseconds(delayMs)) }
                try await events.send(ServerSentEvent(data: chunk(delta: "{\"content\":\(jsonQuoted(token))}", finish: nil)))
            }
            try await events.send([
                ServerSentEvent(data: chunk(delta: "{}", finish: "stop")),
                ServerSentEvent(data: """
                {"id":"mock-1","object":"chat.completion.chunk","model":"\(model)","choices":[],"usage":{"prompt_tokens":\(promptTokens),"completion_tokens":\(tokens.count),"total_tokens":\(promptTokens + tokens.count)}}
                """),
                ServerSentEvent(data: "[DONE]"),
            ])
        }
    }

    private static func chunk(delta: String, finish: String?) -> String {
        let reason = finish.map { "\"\($0)\"" } ?? "null"
        return "{\"id\":\"mock-1\",\"object\":\"chat.completion.chunk\",\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"delta\":\(delta),\"finish_reason\":\(reason)}]}"
    }

    private static func headerInt(_ request: Request, _ name: String, default fallback: Int, max: Int) -> Int? {
        guard let text = request.headers[name] else { return fallback }
        guard let value = Int(text), value >= 0, value <= max else { return nil }
        return value
    }

    private static func json(_ text: String) -> Response {
        Response(contentType: "application/json", body: Array(text.utf8))
    }
}
