import FoundationEssentials

/// A chat completion as OpenAI's API asks for one: the whole conversation comes with the
/// request, and the answer goes back to it. Admitted like a send (the route counts the
/// message; here the stream place and the daily token budget), charged and recorded like one.
/// Stored in a session only when the caller names one (or asks for a new one); otherwise the
/// answer is generated, returned and charged, and nothing else is kept.
public struct ChatCompletionCommand: Sendable {
    public enum Session: Sendable, Equatable {
        case none
        case new
        case existing(ChatSession.ID)
    }

    public var model: String
    public var messages: [ContextMessage]
    public var temperature: Double?
    public var topP: Double?
    public var maxTokens: Int?
    public var stop: [String]?
    public var session: Session

    public init(model: String, messages: [ContextMessage], temperature: Double? = nil, topP: Double? = nil, maxTokens: Int? = nil,
                stop: [String]? = nil, session: Session = .none) {
        self.model = model
        self.messages = messages
        self.temperature = temperature
        self.topP = topP
        self.maxTokens = maxTokens
        self.stop = stop
        self.session = session
    }
}

public struct CompleteChat: Sendable {
    let deps: TurnDependencies

    public init(_ deps: TurnDependencies) {
        self.deps = deps
    }

    /// The started answer, and the session it is stored in, if any.
    public func callAsFunction(_ principal: Principal, _ command: ChatCompletionCommand) async throws -> (TurnTicket, ChatSession.ID?) {
        try validate(command)
        switch command.session {
        case .none:
            return (try await ephemeral(principal, command), nil)
        case .new:
            let session = try await CreateSession(deps.chat)(principal, title: nil, model: command.model, projectID: nil)
            return (try await stored(principal, command, in: session.id), session.id)
        case .existing(let id):
            return (try await stored(principal, command, in: id), id)
        }
    }

    /// Kept in the session: the request's last user message and the answer, like a send, but
    /// with the request's messages as the context.
    private func stored(_ principal: Principal, _ command: ChatCompletionCommand, in session: ChatSession.ID) async throws -> TurnTicket {
        guard let question = command.messages.last(where: { $0.role == .user }) else {
            throw DomainError.validation([FieldError("messages", "must hold a user message to store in a session")])
        }
        var send = SendMessageCommand(content: question.content, model: command.model, temperature: command.temperature, maxTokens: command.maxTokens)
        send.topP = command.topP
        send.stop = command.stop
        send.context = command.messages
        return try await SendMessage(deps)(principal, sessionID: session, send)
    }

    /// Generated and returned only: no session, no rows, the usage recorded and charged.
    private func ephemeral(_ principal: Principal, _ command: ChatCompletionCommand) async throws -> TurnTicket {
        let now = deps.chat.clock.now()
        // Held in the registry under a session of its own, so a drain refuses it and shutdown
        // stops it like any other answer.
        let nowhere = ChatSession.ID(deps.chat.ids.newUUID())
        try deps.registry.reserve(nowhere)
        let admission: SendMessage.Admission
        do {
            admission = try await SendMessage(deps).admit(principal, now: now)
        } catch {
            deps.registry.release(nowhere)
            throw error
        }
        let question = command.messages.last { $0.role == .user }?.content ?? ""
        let user = Message(id: Message.ID(deps.chat.ids.newUUID()), sessionID: nowhere, role: .user, content: question, status: .complete,
                           createdAt: now, updatedAt: now)
        let answer = Message(id: Message.ID(deps.chat.ids.newUUID()), sessionID: nowhere, role: .assistant, content: "", status: .streaming,
                             createdAt: now, updatedAt: now)
        let turn = Turn(userMessage: user, assistantMessage: answer, ownerID: principal.user.id, model: command.model, lease: admission.lease,
                        stored: false)
        deps.registry.activate(turn)
        TurnRunner(deps: deps).start(turn, request: CompletionRequest(
            model: command.model, messages: command.messages, temperature: command.temperature ?? deps.settings.defaultTemperature,
            maxTokens: command.maxTokens ?? deps.settings.maxOutputTokens, topP: command.topP, stop: command.stop
        ))
        return TurnTicket(userMessage: user, assistantMessageID: answer.id, follower: TurnFollower(.live(turn), offset: 0),
                          rateLimits: admission.usage, stop: { turn.stop(.requested) })
    }

    private func validate(_ command: ChatCompletionCommand) throws(DomainError) {
        guard deps.chat.models.contains(command.model) else { throw .notFound("model") }
        var errors: [FieldError] = []
        if command.messages.isEmpty { errors.append(FieldError("messages", "must hold at least one message")) }
        let characters = command.messages.reduce(0) { $0 + $1.content.count }
        let budget = deps.settings.maxContextTokens * 4
        if characters > budget {
            errors.append(FieldError("messages", "must hold at most \(budget) characters together (CHAT_MAX_CONTEXT_TOKENS at four a token; they hold \(characters))"))
        }
        if let temperature = command.temperature, !(0...2).contains(temperature) { errors.append(FieldError("temperature", "must be from 0 to 2")) }
        if let topP = command.topP, !(0...1).contains(topP) { errors.append(FieldError("top_p", "must be from 0 to 1")) }
        if let maxTokens = command.maxTokens, !(1...deps.settings.maxOutputTokens).contains(maxTokens) {
            errors.append(FieldError("max_tokens", "must be a whole number from 1 to \(deps.settings.maxOutputTokens) (CHAT_MAX_OUTPUT_TOKENS)"))
        }
        if let stop = command.stop, stop.count > 4 || stop.contains(where: \.isEmpty) {
            errors.append(FieldError("stop", "must be at most 4 sequences, none empty"))
        }
        if !errors.isEmpty { throw .validation(errors) }
    }
}
