import FoundationEssentials
public import HTTPServer
public import Logging
import Synchronization
import JSONText

/// The routes of `parley mock-llm`: the OpenAI chat-completions API, answered with a
/// deterministic reply that echoes the last user message, at a pace the caller picks.
///
/// Per-request controls, as headers or, so that a test can steer it through parley, as
/// `mock:name=value` words in the last user message (a header wins):
/// - `X-Mock-Tokens` / `mock:tokens`: how many tokens (default 16); `X-Mock-Delay-Ms` /
///   `mock:delay`: pause before each, in milliseconds (default 20).
/// - `X-Mock-Fail` / `mock:fail`: `500`, `429` (with `Retry-After: 1`), `stall` (headers, then
///   nothing before the first token), `stall-head` (the request is read, then nothing at all, not
///   even the response head), `drop` (the connection closes after half the tokens),
///   `echo-auth` (401 whose message repeats the `Authorization` header).
/// - `X-Mock-Fail-Times` / `mock:fail-times`: fail only the first N requests of the scenario
///   (`X-Mock-Scenario`, or the message itself), then answer normally (to test retries).
/// - `X-Mock-Usage` / `mock:usage`: `off` leaves out the usage chunk.
/// - `X-Mock-Echo` / `mock:echo`: `context` replies with every message it was sent, one per
///   line as `[role] content`, instead of the user's words; `params` with the sampling
///   parameters it was sent (`temperature=… max_tokens=… top_p=… stop=…`).
public enum MockUpstream {
    public static let model = "mock-model"

    struct ChatRequest: Decodable {
        struct Message: Decodable {
            let role: String
            let content: String
        }
        let model: String?
        let messages: [Message]
        let stream: Bool?
        let temperature: Double?
        let max_tokens: Int?
        let top_p: Double?
        let stop: [String]?

        /// The sampling parameters as the mock read them (`mock:echo=params`).
        var parameters: String {
            func text(_ value: Any?) -> String { value.map { "\($0)" } ?? "-" }
            return "temperature=\(text(temperature)) max_tokens=\(text(max_tokens)) top_p=\(text(top_p)) stop=\(stop.map { $0.joined(separator: "|") } ?? "-")"
        }
    }

    /// Requests seen per scenario, for `X-Mock-Fail-Times`.
    final class Scenarios: Sendable {
        let counts = Mutex<[String: Int]>([:])

        func shouldFail(_ controls: Controls) -> Bool {
            guard let times = controls["fail-times"].flatMap(Int.init) else { return true }
            let key = controls["scenario"] ?? ""
            let seen = counts.withLock { counts in
                counts[key, default: 0] += 1
                return counts[key] ?? 0
            }
            return seen <= times
        }
    }

    /// `logger`, if given, hears of each streamed answer whose client left before its end
    /// (what a test of cancellation looks for).
    public static func register(on router: inout RouterBuilder, logger: Logger? = nil) {
        let scenarios = Scenarios()
        router.get("/v1/models") { _ in
            json("{\"object\":\"list\",\"data\":[{\"id\":\"\(model)\",\"object\":\"model\",\"owned_by\":\"parley\"}]}")
        }
        router.post("/v1/chat/completions") { request in
            let chat: ChatRequest
            do {
                chat = try JSONDecoder().decode(ChatRequest.self, from: Data(request.body))
            } catch {
                return errorResponse(.badRequest, "body is not a chat completion request")
            }
            let lastUserMessage = chat.messages.last { $0.role == "user" }?.content ?? ""
            let controls = Controls(request, message: lastUserMessage)
            guard let count = controls.integer("tokens", default: 16, max: 100_000),
                  let delay = controls.integer("delay", default: 20, max: 60_000) else {
                return errorResponse(.badRequest, "the token count and delay must be non-negative whole numbers")
            }
            let failure = controls["fail"].flatMap { scenarios.shouldFail(controls) ? $0 : nil }
            switch failure {
            case "500": return errorResponse(.internalServerError, "the mock upstream failed as asked")
            case "echo-auth":
                // A careless upstream that repeats the credential it refuses.
                return errorResponse(.unauthorized, "invalid API key: \(request.headers["Authorization"] ?? "none")")
            case "429":
                var response = errorResponse(.tooManyRequests, "rate limited by the mock upstream")
                response.headers.add("Retry-After", "1")
                return response
            case "stall-head":
                // An upstream that accepted the request and hangs: no status line ever comes.
                try await Task.sleep(for: .seconds(3600))
            default: break
            }
            // What the upstream was sent, message by message: tests see the context parley built.
            let tokens = switch controls["echo"] {
            case "context": chat.messages.map { "[\($0.role)] \($0.content)\n" }
            case "params": [chat.parameters]
            default: replyTokens(for: lastUserMessage, count: count)
            }
            let promptTokens = chat.messages.reduce(0) { $0 + max(1, $1.content.split(separator: " ").count) }
            if chat.stream == true {
                var response = streamed(tokens, delayMs: delay, promptTokens: promptTokens, failure: failure, usage: controls["usage"] != "off")
                if let logger {
                    response.onFinish { finish in
                        if !finish.completed { logger.info("stream closed by the client before its end", metadata: ["parley.bytes": "\(finish.bodyBytes)"]) }
                    }
                }
                return response
            }
            try await Task.sleep(for: .milliseconds(delay * tokens.count))
            return json("""
            {"id":"mock-1","object":"chat.completion","model":"\(model)","choices":[{"index":0,"message":{"role":"assistant","content":\(jsonQuoted(tokens.joined()))},"finish_reason":"stop"}],"usage":{"prompt_tokens":\(promptTokens),"completion_tokens":\(tokens.count),"total_tokens":\(promptTokens + tokens.count)}}
            """)
        }
    }

    /// The reply: the words of the user's message, cycled, each followed by a space.
    public static func replyTokens(for message: String, count: Int) -> [String] {
        let words = message.split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
        let source = words.isEmpty ? ["mock"] : words
        return (0..<count).map { source[$0 % source.count] + " " }
    }

    private static func streamed(_ tokens: [String], delayMs: Int, promptTokens: Int, failure: String?, usage: Bool) -> Response {
        .eventStream { events in
            if failure == "stall" {
                try await Task.sleep(for: .seconds(3600))
            }
            for (i, token) in tokens.enumerated() {
                if failure == "drop", i == tokens.count / 2 {
                    // Throwing from a stream ends the connection without the terminating chunk.
                    throw ConnectionClosedError()
                }
                if delayMs > 0 { try await Task.sleep(for: .milliseconds(delayMs)) }
                try await events.send(ServerSentEvent(data: chunk(delta: "{\"content\":\(jsonQuoted(token))}", finish: nil)))
            }
            var ending = [ServerSentEvent(data: chunk(delta: "{}", finish: "stop"))]
            if usage {
                ending.append(ServerSentEvent(data: """
                {"id":"mock-1","object":"chat.completion.chunk","model":"\(model)","choices":[],"usage":{"prompt_tokens":\(promptTokens),"completion_tokens":\(tokens.count),"total_tokens":\(promptTokens + tokens.count)}}
                """))
            }
            ending.append(ServerSentEvent(data: "[DONE]"))
            try await events.send(ending)
        }
    }

    private static func chunk(delta: String, finish: String?) -> String {
        let reason = finish.map { "\"\($0)\"" } ?? "null"
        return "{\"id\":\"mock-1\",\"object\":\"chat.completion.chunk\",\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"delta\":\(delta),\"finish_reason\":\(reason)}]}"
    }

    /// Errors in the shape OpenAI-compatible servers use: `{"error":{"message",…}}`.
    private static func errorResponse(_ status: HTTPStatus, _ message: String) -> Response {
        Response(status: status, contentType: "application/json",
                 body: Array("{\"error\":{\"message\":\(jsonQuoted(message)),\"type\":\"mock_error\",\"code\":\(status.code)}}".utf8))
    }

    /// The controls of one request: headers first, then `mock:` words of the message.
    struct Controls {
        private var values: [String: String] = [:]
        private static let headers = ["tokens": "X-Mock-Tokens", "delay": "X-Mock-Delay-Ms", "fail": "X-Mock-Fail", "echo": "X-Mock-Echo",
                                      "fail-times": "X-Mock-Fail-Times", "scenario": "X-Mock-Scenario", "usage": "X-Mock-Usage"]

        init(_ request: Request, message: String) {
            for word in message.split(whereSeparator: \.isWhitespace) where word.hasPrefix("mock:") {
                let pair = word.dropFirst(5).split(separator: "=", maxSplits: 1)
                if pair.count == 2 { values[String(pair[0])] = String(pair[1]) }
            }
            if values["fail-times"] != nil, values["scenario"] == nil { values["scenario"] = message }
            for (name, header) in Self.headers {
                if let value = request.headers[header] { values[name] = value }
            }
        }

        subscript(name: String) -> String? { values[name] }

        func integer(_ name: String, default fallback: Int, max: Int) -> Int? {
            guard let text = values[name] else { return fallback }
            guard let value = Int(text), value >= 0, value <= max else { return nil }
            return value
        }
    }

    private static func json(_ text: String) -> Response {
        Response(contentType: "application/json", body: Array(text.utf8))
    }
}
