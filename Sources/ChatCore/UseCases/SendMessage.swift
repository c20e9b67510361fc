import FoundationEssentials

/// What a user sends: the text, where it goes in the session's tree, and optionally a model
/// and sampling settings for this turn. A regenerate has no text: it answers again the user
/// message an earlier answer answered.
public struct SendMessageCommand: Sendable {
    public var content: String
    public var placement: TurnPlacement
    public var model: String?
    public var temperature: Double?
    public var maxTokens: Int?
    public var topP: Double?
    public var stop: [String]?
    /// From the `Idempotency-Key` header.
    public var idempotencyKey: String?
    /// What goes upstream instead of the session's history and prompts (an OpenAI API request
    /// brings its own messages; `content` is then its last user message, the one stored).
    public var context: [ContextMessage]?

    public init(content: String, placement: TurnPlacement = .activeLeaf, model: String? = nil, temperature: Double? = nil, maxTokens: Int? = nil,
                idempotencyKey: String? = nil) {
        self.content = content
        self.placement = placement
        self.model = model
        self.temperature = temperature
        self.maxTokens = maxTokens
        self.idempotencyKey = idempotencyKey
    }
}

/// A turn as its first reader sees it: the stored user message, the assistant message's id,
/// and a follower from the first byte.
public struct TurnTicket: Sendable {
    public let userMessage: Message
    public let assistantMessageID: Message.ID
    public var follower: TurnFollower
    /// Where the sender stands on the limited tiers after this send.
    public let rateLimits: [TierUsage]
    /// Stops the generation (a reader that should not outlive its client); nil when this
    /// process does not run it.
    public var stop: (@Sendable () -> Void)? = nil
}

/// Sends a message: stores it with the assistant's `streaming` placeholder, then starts the
/// generation as a job of its own and returns a reader of it. A retry with the same
/// `Idempotency-Key` returns a reader of the turn the first attempt started.
public struct SendMessage: Sendable {
    let deps: TurnDependencies

    public init(_ deps: TurnDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, _ command: SendMessageCommand) async throws -> TurnTicket {
        try validate(command)
        let chat = deps.chat
        // The session is read (and its owner checked) inside `begin`: a send costs no read of its own.
        let requestHash = Self.hash(sessionID, command, model: command.model ?? "")
        let now = chat.clock.now()
        let keysValidSince = now.addingTimeInterval(-deps.settings.idempotencyWindow.seconds)
        if let key = command.idempotencyKey,
           let record = try await deps.store.idempotencyRecord(userID: principal.user.id, key: key, since: keysValidSince) {
            return try await rejoin(record, requestHash: requestHash, principal)
        }

        do {
            try deps.registry.reserve(sessionID)
        } catch {
            // Perhaps the first attempt with this key, still writing its record: join it.
            guard error == .turnInProgress, let key = command.idempotencyKey,
                  let record = try await awaitRecord(principal, key: key, since: keysValidSince) else { throw error }
            return try await rejoin(record, requestHash: requestHash, principal)
        }
        let user = Message(id: Message.ID(chat.ids.newUUID()), sessionID: sessionID, role: .user, content: command.content,
                           status: .complete, createdAt: now, updatedAt: now)
        let assistant = Message(id: Message.ID(chat.ids.newUUID()), sessionID: sessionID, role: .assistant, content: "",
                                status: .streaming, createdAt: now, updatedAt: now)
        let record = command.idempotencyKey.map {
            IdempotencyRecord(userID: principal.user.id, key: $0, requestHash: requestHash, sessionID: sessionID,
                              userMessageID: user.id, assistantMessageID: assistant.id, createdAt: now)
        }
        var start = TurnStart(userMessage: user, assistantMessage: assistant, firstMessageTitle: ChatSession.title(fromFirstMessage: command.content),
                              defaultTitle: ChatSession.defaultTitle, idempotency: record, ownerInstance: deps.instanceID,
                              leaseUntil: now.adding(deps.policy.streamLease))
        start.placement = command.placement
        start.ownerID = principal.user.id
        let turn: Turn
        let session: ChatSession
        let request: CompletionRequest
        var admission: Admission?
        do {
            admission = try await admit(principal, now: now)
            switch try await deps.store.begin(start, keysValidSince: keysValidSince) {
            case .alreadyStarted(let record):
                deps.registry.release(sessionID)
                await admission?.giveBackLease()
                return try await rejoin(record, requestHash: requestHash, principal)
            case .started(let storedUser, let storedAssistant, let placed):
                session = placed
                turn = Turn(userMessage: storedUser, assistantMessage: storedAssistant, ownerID: principal.user.id,
                            model: command.model ?? placed.model, lease: admission?.lease)
            }
            var context: [ContextMessage]
            if let given = command.context {
                context = given
            } else {
                var prompts: [Prompt] = []
                if let projectID = session.projectID { prompts = try await chat.projects.prompts(projectID: projectID) }
                // The path from the root to the user message: the branch this turn answers
                // (a first message is the whole of it).
                let history = turn.userMessage.parentID == nil ? [turn.userMessage]
                    : try await chat.messages.path(to: turn.userMessage.id, sessionID: sessionID, count: deps.settings.maxContextMessages)
                context = TurnContext.build(leading: [deps.settings.systemPrompt, session.systemPrompt].compactMap { $0 }, prompts: prompts, history: history,
                                            maxMessages: deps.settings.maxContextMessages, maxTokens: deps.settings.maxContextTokens)
            }
            request = CompletionRequest(model: turn.model, messages: context, temperature: command.temperature ?? deps.settings.defaultTemperature,
                                        maxTokens: command.maxTokens ?? deps.settings.maxOutputTokens, topP: command.topP, stop: command.stop)
        } catch {
            deps.registry.release(sessionID)
            await admission?.giveBackLease()
            throw error
        }
        deps.registry.activate(turn)
        TurnRunner(deps: deps).start(turn, request: request)
        return TurnTicket(userMessage: turn.userMessage, assistantMessageID: turn.assistantMessage.id,
                          follower: TurnFollower(.live(turn), offset: 0), rateLimits: admission?.usage ?? [], stop: { turn.stop(.requested) })
    }

    /// A send that passed the limits: the stream lease it holds and where the sender stands.
    struct Admission {
        let limiter: any RateLimiter
        let userID: User.ID
        var lease: String?
        var usage: [TierUsage] = []

        func giveBackLease() async {
            if let lease { try? await limiter.releaseStream(userID: userID, lease: lease) }
        }
    }

    /// Takes a stream lease (if streams are capped), then checks the daily token budget. The
    /// lease comes first so a send refused for streams never looks at tokens. The message
    /// itself was counted against the per-minute and daily tiers by the route's policy, which
    /// gives it back if this send is refused.
    func admit(_ principal: Principal, now: Date) async throws -> Admission {
        let limits = deps.policy.limits(for: principal.user.role)
        var admission = Admission(limiter: deps.limiter, userID: principal.user.id)
        if limits.concurrentStreams != nil || deps.policy.serverStreams != nil {
            let id = deps.chat.ids.newUUID().uuidString
            switch try await deps.limiter.acquireStream(userID: admission.userID, lease: id, limit: limits.concurrentStreams,
                                                        serverLimit: deps.policy.serverStreams, now: now, ttl: deps.policy.streamLease) {
            case .refused(let tier): throw DomainError.rateLimited(RateRefusal(tier, now: now))
            case .allowed(let tiers):
                admission.lease = id
                admission.usage = tiers
            }
        }
        guard let budget = limits.dailyTokens else { return admission }
        let tokens: [TierUsage]
        do {
            tokens = try await deps.limiter.usage(userID: admission.userID, limits: RateLimits(perMinute: nil, daily: nil, dailyTokens: budget,
                                                                                                concurrentStreams: nil), now: now)
        } catch {
            await admission.giveBackLease()
            throw error
        }
        if let spent = tokens.first(where: { $0.tier == .dailyTokens }), spent.used >= spent.limit {
            await admission.giveBackLease()
            throw DomainError.rateLimited(RateRefusal(spent, now: now))
        }
        admission.usage = tokens.filter { $0.tier == .dailyTokens } + admission.usage
        return admission
    }

    /// Whether a send with `key` repeats one this user made within the idempotency window: it
    /// is answered with the turn the first one started.
    public func isRetry(_ principal: Principal, idempotencyKey key: String) async throws -> Bool {
        let since = deps.chat.clock.now().addingTimeInterval(-deps.settings.idempotencyWindow.seconds)
        return try await deps.store.idempotencyRecord(userID: principal.user.id, key: key, since: since) != nil
    }

    /// The record of `key` once a concurrent request has committed it (within a second).
    private func awaitRecord(_ principal: Principal, key: String, since: Date) async throws -> IdempotencyRecord? {
        for _ in 0..<50 {
            if let record = try await deps.store.idempotencyRecord(userID: principal.user.id, key: key, since: since) { return record }
            try await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }

    /// The turn an earlier request with the same key started, if the request is the same.
    private func rejoin(_ record: IdempotencyRecord, requestHash: String, _ principal: Principal) async throws -> TurnTicket {
        guard record.requestHash == requestHash else {
            throw DomainError.validation([FieldError("Idempotency-Key", "was already used for a different request in the last 24 hours")])
        }
        guard let user = try await deps.chat.messages.find(id: record.userMessageID, sessionID: record.sessionID) else {
            throw DomainError.notFound("message")
        }
        let follower = try await FollowTurn.follower(deps, sessionID: record.sessionID, messageID: record.assistantMessageID, after: 0)
        let usage = try await deps.limiter.usage(userID: principal.user.id, limits: deps.policy.limits(for: principal.user.role),
                                                 now: deps.chat.clock.now())
        return TurnTicket(userMessage: user, assistantMessageID: record.assistantMessageID, follower: follower, rateLimits: usage)
    }

    private func validate(_ command: SendMessageCommand) throws(DomainError) {
        var errors: [FieldError] = []
        let length = command.content.count
        if case .regenerate = command.placement {
            // No text of its own: it answers an existing message again.
        } else if command.content.trimmingWhiteSpace().isEmpty {
            errors.append(FieldError("content", "must not be empty"))
        } else if length > deps.settings.maxMessageLength {
            errors.append(FieldError("content", "must be at most \(deps.settings.maxMessageLength) characters (it has \(length))"))
        }
        if let model = command.model, !deps.chat.models.contains(model) {
            errors.append(FieldError("model", "must be one of the models this server offers: \(deps.chat.models.joined(separator: ", "))"))
        }
        if let temperature = command.temperature, !(0...2).contains(temperature) {
            errors.append(FieldError("temperature", "must be from 0 to 2"))
        }
        if let maxTokens = command.maxTokens, !(1...deps.settings.maxOutputTokens).contains(maxTokens) {
            errors.append(FieldError("max_tokens", "must be a whole number from 1 to \(deps.settings.maxOutputTokens) (CHAT_MAX_OUTPUT_TOKENS)"))
        }
        if let key = command.idempotencyKey, key.isEmpty || key.utf8.count > 255 || !key.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) {
            errors.append(FieldError("Idempotency-Key", "must be 1 to 255 visible ASCII characters"))
        }
        if !errors.isEmpty { throw .validation(errors) }
    }

    /// Identifies the request a key was used for (FNV-1a, 64 bits: a guard against mistakes,
    /// not against an attacker, who could only confuse their own retries).
    static func hash(_ sessionID: ChatSession.ID, _ command: SendMessageCommand, model: String) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        var fields = [sessionID.description, command.content, model, command.temperature.map { "\($0)" } ?? "", command.maxTokens.map { "\($0)" } ?? ""]
        // A plain send hashes as it always did, so keys recorded before branches still match.
        switch command.placement {
        case .activeLeaf: break
        case .after(let parent): fields.append("after:\(parent?.description ?? "root")")
        case .regenerate(let answer): fields.append("regenerate:\(answer)")
        }
        if let context = command.context {
            fields.append("context:" + context.map { "\($0.role.rawValue):\($0.content.utf8.count):\($0.content)" }.joined(separator: "|"))
        }
        if command.topP != nil || command.stop != nil {
            fields.append("p:\(command.topP.map { "\($0)" } ?? "-")|s:" + (command.stop ?? []).map { "\($0.utf8.count):\($0)" }.joined(separator: "|"))
        }
        let text = fields.joined(separator: "\u{0}")
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash &*= 0x100_0000_01b3
        }
        return String(hash, radix: 16)
    }
}
