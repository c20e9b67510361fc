public import ChatCore
import FoundationEssentials
public import HTTPServer
public import Logging
import JSONText

/// OpenAI's chat API under `/openai/v1`, so clients that speak it (the official SDKs, editors,
/// other frontends) work by changing their base URL and key, and get parley's accounts, limits,
/// usage and, with `X-Parley-Session`, its stored history. parley's own `/v1` stays as it is.
public enum OpenAIRoutes {
    public static let prefix = "/openai/v1"

    public static func register(on router: inout RouterBuilder, turns: TurnDependencies, provider: any ChatProvider, auth authDeps: AuthDependencies,
                                limits: RouteLimits, logger: Logger) {
        router.renderErrors(logger)
        router.use(OpenAIErrorShape())
        let auth = BearerAuthentication(authDeps)
        // Counted like a send (per minute, per day); the use case takes the stream place and
        // checks the token budget. A request is never a retry of another.
        let messages = limits.messages { _, _ in false }
        let bodyLimit = max(1 << 20, turns.settings.maxContextTokens * 4 * 6 + 64 * 1024)

        router.post("\(prefix)/chat/completions", bodyLimit: bodyLimit, auth: auth, limit: messages) { request, principal in
            let body = try JSONBody.decode(OpenAIChatRequest.self, from: request)
            let session: ChatCompletionCommand.Session
            switch request.headers["X-Parley-Session"] {
            case nil: session = .none
            case "new": session = .new
            case let text?:
                guard let id = ChatSession.ID(text) else { throw JSONBody.validation("X-Parley-Session", "must be a session id or new") }
                session = .existing(id)
            }
            let command = try body.command(session: session)
            guard turns.chat.models.contains(command.model) else {
                var problem = Problem(.notFound, code: "model_not_found",
                                      detail: "the model \(command.model) is not offered by this server (GET \(prefix)/models lists them)")
                problem.errors = [("model", "is not offered by this server")]
                throw problem
            }
            let (ticket, sessionID) = try await CompleteChat(turns)(principal, command)
            logger.info("openai chat completion", metadata: [
                "parley.user.id": "\(principal.user.id)", "parley.model": "\(command.model)", "parley.stream": "\(body.stream == true)",
                "parley.session": "\(sessionID.map { "\($0)" } ?? "none")", "parley.end_user": "\(body.user.map { String($0.prefix(64)) } ?? "")", "audit": "true",
            ])
            let completion = Completion(id: "chatcmpl-\(ticket.assistantMessageID)", created: Int(turns.chat.clock.now().timeIntervalSince1970),
                                        model: command.model)
            var response = body.stream == true
                ? streamed(ticket, completion, includeUsage: body.streamOptions?.includeUsage == true)
                : try await whole(ticket, completion)
            RateLimitHeaders.apply(ticket.rateLimits, now: turns.chat.clock.now(), to: &response)
            if let sessionID { response.headers.set("X-Parley-Session", sessionID.description) }
            return response
        }
        let models = provider.models
        router.get("\(prefix)/models", auth: auth) { _, _ in
            JSONBody.response(ModelList(data: models.map(ModelObject.init)))
        }
        router.get("\(prefix)/models/{id}", auth: auth) { request, _ in
            guard let id = request.parameters["id"], let model = models.first(where: { $0.id == id }) else {
                throw Problem(.notFound, code: "model_not_found", detail: "the model \(request.parameters["id"] ?? "") is not offered by this server")
            }
            return JSONBody.response(ModelObject(model))
        }
    }

    struct Completion {
        let id: String
        let created: Int
        let model: String

        /// The head of every chunk, up to `choices`.
        var chunkPrefix: String {
            "{\"id\":\(jsonQuoted(id)),\"object\":\"chat.completion.chunk\",\"created\":\(created),\"model\":\(jsonQuoted(model)),"
        }

        func chunk(delta: String, finishReason: String? = nil) -> String {
            chunkPrefix + "\"choices\":[{\"index\":0,\"delta\":\(delta),\"finish_reason\":\(finishReason.map(jsonQuoted) ?? "null")}]}"
        }
    }

    /// The answer as chunks (`data: {chunk}`), the last with its finish reason, then its usage
    /// when asked for, then `data: [DONE]`. A client that leaves stops the generation.
    static func streamed(_ ticket: TurnTicket, _ completion: Completion, includeUsage: Bool) -> Response {
        .eventStream { events in
            var follower = ticket.follower
            do {
                try await events.send(ServerSentEvent(data: completion.chunk(delta: "{\"role\":\"assistant\",\"content\":\"\"}")))
                loop: while true {
                    switch await follower.next() {
                    case .content(let delta, _):
                        try await events.send(ServerSentEvent(data: completion.chunk(delta: "{\"content\":\(jsonQuoted(delta))}")))
                    case .heartbeat:
                        try await events.keepAlive()
                    case .detached:
                        // The reader was cancelled: its client left.
                        ticket.stop?()
                        return
                    case .ended(let end):
                        if case .failed(let failure, _) = end {
                            try await events.send(ServerSentEvent(data: OpenAIErrorShape.body(message: "the model's upstream failed (\(failure.message))",
                                                                                               type: "api_error", code: failure.code, param: nil)))
                            break loop
                        }
                        let message = end.message
                        try await events.send(ServerSentEvent(data: completion.chunk(delta: "{}", finishReason: finishReason(message))))
                        if includeUsage, let usage = message.usage {
                            try await events.send(ServerSentEvent(data: completion.chunkPrefix + "\"choices\":[],\"usage\":\(usageJSON(usage))}"))
                        }
                        break loop
                    }
                }
                try await events.send(ServerSentEvent(data: "[DONE]"))
            } catch {
                // The client left: the upstream transfer is cancelled with the generation.
                ticket.stop?()
                throw error
            }
        }
    }

    /// The whole answer as one `chat.completion`; a client that leaves first stops it.
    static func whole(_ ticket: TurnTicket, _ completion: Completion) async throws -> Response {
        var follower = ticket.follower
        let end: TurnEnd? = await withTaskCancellationHandler {
            while true {
                switch await follower.next() {
                case .content, .heartbeat: continue
                case .detached: return nil
                case .ended(let end): return end
                }
            }
        } onCancel: {
            ticket.stop?()
        }
        guard let end else { throw CancellationError() }
        if case .failed(let failure, _) = end { throw failure }
        let message = end.message
        let body = "{\"id\":\(jsonQuoted(completion.id)),\"object\":\"chat.completion\",\"created\":\(completion.created),\"model\":\(jsonQuoted(completion.model)),"
            + "\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\(jsonQuoted(message.content))},\"finish_reason\":\(jsonQuoted(finishReason(message)))}],"
            + "\"usage\":\(message.usage.map(usageJSON) ?? "null")}"
        return Response(contentType: "application/json", body: Array(body.utf8))
    }

    /// OpenAI's reasons: the upstream's when it gave one, `stop` otherwise (an answer that was
    /// stopped also ended where it stopped).
    static func finishReason(_ message: ChatCore.Message) -> String {
        message.finishReason ?? "stop"
    }

    static func usageJSON(_ usage: TokenUsage) -> String {
        "{\"prompt_tokens\":\(usage.promptTokens),\"completion_tokens\":\(usage.completionTokens),\"total_tokens\":\(usage.promptTokens + usage.completionTokens)}"
    }

    struct ModelObject: Encodable {
        let id: String
        let object = "model"
        let created = 0
        let ownedBy: String

        init(_ model: ModelInfo) {
            id = model.id
            ownedBy = model.provider
        }
    }

    struct ModelList: Encodable {
        let object = "list"
        let data: [ModelObject]
    }
}

/// Errors under `/openai/v1` in OpenAI's shape, `{"error": {"message", "type", "code",
/// "param"}}`, with the statuses its SDKs map to their exceptions: what parley answers as a
/// problem (RFC 9457) elsewhere is rewritten here, so errors are still made in one place. A
/// request parley cannot take is 400 (parley's 422), an unknown model 404 `model_not_found`.
struct OpenAIErrorShape: Middleware {
    struct ProblemFields: Decodable {
        struct FieldError: Decodable { let field: String }
        let detail: String?
        let code: String?
        let errors: [FieldError]?
    }

    func handle(_ request: Request, next: Next) async throws -> Response {
        var response = try await next(request)
        guard request.path.hasPrefix(OpenAIRoutes.prefix + "/"), response.headers["Content-Type"] == "application/problem+json",
              case .bytes(let bytes) = response.body else { return response }
        let problem = (try? JSONDecoder().decode(ProblemFields.self, from: Data(bytes))) ?? ProblemFields(detail: nil, code: nil, errors: nil)
        var status = response.status
        if status.code == 422 { status = .badRequest }
        let param = problem.errors?.first?.field
        let type: String, code: String?
        switch status.code {
        case 400: (type, code) = ("invalid_request_error", problem.code)
        case 401: (type, code) = ("invalid_request_error", "invalid_api_key")
        case 403: (type, code) = ("permission_error", problem.code)
        case 404: (type, code) = ("invalid_request_error", problem.code == "model_not_found" ? "model_not_found" : "not_found")
        case 429: (type, code) = ("rate_limit_error", "rate_limit_exceeded")
        case 500...: (type, code) = ("api_error", problem.code)
        default: (type, code) = ("invalid_request_error", problem.code)
        }
        response.status = status
        response.headers.set("Content-Type", "application/json")
        let message = problem.detail ?? response.status.reason
        response.body = .bytes(Array(Self.body(message: message, type: type, code: code, param: param).utf8))
        return response
    }

    static func body(message: String, type: String, code: String?, param: String?) -> String {
        "{\"error\":{\"message\":\(jsonQuoted(message)),\"type\":\(jsonQuoted(type)),\"param\":\(param.map(jsonQuoted) ?? "null"),\"code\":\(code.map(jsonQuoted) ?? "null")}}"
    }
}
