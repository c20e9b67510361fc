public import ChatCore
import FoundationEssentials
public import HTTPServer
public import Logging
import JSONText

/// Sending a message, following its answer, stopping it (docs/architecture.md, *Turns*). The answer is generated
/// by a job of its own: these routes are only its readers.
public enum TurnRoutes {
    public static func register(on router: inout RouterBuilder, turns: TurnDependencies, auth authDeps: AuthDependencies, limits: RouteLimits,
                                logger: Logger) {
        router.renderErrors(logger)
        let auth = BearerAuthentication(authDeps)
        // Room for the longest message even if every character is escaped as \uXXXX.
        let bodyLimit = max(64 * 1024, turns.settings.maxMessageLength * 12 + 1024)

        // Messages count against the per-minute and daily tiers here; the use case keeps what
        // needs the domain (the daily token budget, stream places).
        let messages = limits.messages { request, principal in
            guard let key = request.headers["Idempotency-Key"] else { return false }
            return try await SendMessage(turns).isRetry(principal, idempotencyKey: key)
        }
        router.post("/v1/sessions/{id}/messages", bodyLimit: bodyLimit, auth: auth, limit: messages) { request, principal in
            let sessionID: ChatSession.ID = try request.identifier("id", of: "session")
            let body = try JSONBody.decode(SendMessageBody.self, from: request)
            let command = SendMessageCommand(content: body.content, placement: body.parent, model: body.model, temperature: body.temperature,
                                             maxTokens: body.maxTokens, idempotencyKey: request.headers["Idempotency-Key"])
            return try await turnResponse(try await SendMessage(turns)(principal, sessionID: sessionID, command), request: request, turns: turns)
        }
        // Another answer to the question an answer answered, beside it: a send in all but the text.
        router.post("/v1/sessions/{id}/messages/{mid}/regenerate", bodyLimit: 16 * 1024, auth: auth, limit: messages) { request, principal in
            let sessionID: ChatSession.ID = try request.identifier("id", of: "session")
            let answerID: Message.ID = try request.identifier("mid", of: "message")
            let body = request.body.isEmpty ? RegenerateBody(model: nil, temperature: nil, maxTokens: nil) : try JSONBody.decode(RegenerateBody.self, from: request)
            let command = SendMessageCommand(content: "", placement: .regenerate(answerID), model: body.model, temperature: body.temperature,
                                             maxTokens: body.maxTokens, idempotencyKey: request.headers["Idempotency-Key"])
            return try await turnResponse(try await SendMessage(turns)(principal, sessionID: sessionID, command), request: request, turns: turns)
        }
        router.get("/v1/sessions/{id}/messages/{mid}/events", auth: auth) { request, principal in
            let sessionID: ChatSession.ID = try request.identifier("id", of: "session")
            let messageID: Message.ID = try request.identifier("mid", of: "message")
            let offset = try request.resumeOffset()
            let follower = try await FollowTurn(turns)(principal, sessionID: sessionID, messageID: messageID, after: offset)
            return eventStream(start: nil, follower: follower, pending: turns.registry.pending)
        }
        router.get("/v1/usage", auth: auth) { request, principal in
            let now = turns.chat.clock.now()
            let tiers = try await turns.limiter.usage(userID: principal.user.id, limits: turns.policy.limits(for: principal.user.role), now: now)
            var response = JSONBody.response(UsageDTO(role: principal.user.role.rawValue, tiers: tiers.map(TierDTO.init),
                                                        maxMessageLength: turns.settings.maxMessageLength))
            RateLimitHeaders.apply(tiers, now: now, to: &response)
            return response
        }
        router.post("/v1/sessions/{id}/stop", bodyLimit: 0, auth: auth) { request, principal in
            let message = try await StopTurn(turns)(principal, sessionID: try request.identifier("id", of: "session"))
            return JSONBody.response(doneDTO(message, offset: 0, pending: turns.registry.pending))
        }
    }

    /// A started turn as its sender reads it: events as it streams, or the finished answer.
    static func turnResponse(_ ticket: TurnTicket, request: Request, turns: TurnDependencies) async throws -> Response {
        var response: Response
        if request.wantsEventStream {
            let start = TurnStartDTO(userMessage: MessageDTO(ticket.userMessage), assistantMessageId: ticket.assistantMessageID.description)
            response = eventStream(start: start, follower: ticket.follower, pending: turns.registry.pending)
        } else {
            var follower = ticket.follower
            response = try await completedTurn(user: ticket.userMessage, follower: &follower, pending: turns.registry.pending)
        }
        RateLimitHeaders.apply(ticket.rateLimits, now: turns.chat.clock.now(), to: &response)
        return response
    }

    /// The turn as Server-Sent Events: `start` (on send), a `token` per delta whose id is the
    /// byte length delivered so far, then `done` or `error`; a comment while nothing happens.
    static func eventStream(start: TurnStartDTO?, follower: TurnFollower, pending: PendingSaves) -> Response {
        .eventStream { events in
            var follower = follower
            if let start { try await events.send(ServerSentEvent(event: "start", data: start.json)) }
            while true {
                switch event(for: await follower.next(), offset: follower.offset, pending: pending) {
                case .send(let event): try await events.send(event)
                case .frame(let frame): try await events.send(encoded: frame)
                case .last(let event): try await events.send(event); return
                case .keepAlive: try await events.keepAlive()
                case .stop: return
                }
            }
        }
    }

    /// What a stream does with an update. Built outside the streaming closure: the closure's
    /// async frame stays allocated while its stream is open, and every value built in it
    /// across a suspension would make each open stream larger.
    private enum StreamStep {
        case send(ServerSentEvent), frame([UInt8]), last(ServerSentEvent), keepAlive, stop
    }

    private static func event(for update: TurnUpdate, offset: Int, pending: PendingSaves) -> StreamStep {
        switch update {
        case .content(let delta, let offset):
            .frame(tokenFrame(delta, offset: offset))
        case .heartbeat:
            .keepAlive
        case .ended(.failed(let failure, _)):
            .last(errorEvent(failure.code, failure.message))
        case .ended(.shutdown):
            .last(errorEvent("server_shutdown", "the server is restarting; what was generated is saved, send the message again"))
        case .ended(.done(let message)):
            .last(ServerSentEvent(event: "done", data: doneDTO(message, offset: offset, pending: pending).json))
        case .ended(.cached(let message)):
            .last(ServerSentEvent(event: "done", data: doneDTO(message, offset: offset, pending: pending, cached: true).json))
        case .detached:
            .stop
        }
    }

    /// `event: token`, the offset as its id, `{"delta":…}` as its data: the frame written
    /// straight into bytes, as it is the event sent thousands of times a second. JSON escapes
    /// every line break, so the data is one line as it stands.
    static func tokenFrame(_ delta: String, offset: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(delta.utf8.count + 48)
        out.append(contentsOf: "event: token\nid: ".utf8)
        out.append(contentsOf: String(offset).utf8)
        out.append(contentsOf: "\ndata: {\"delta\":".utf8)
        appendJSONQuoted(delta, to: &out)
        out.append(contentsOf: "}\n\n".utf8)
        return out
    }

    /// `done`: the message, whether its save is still pending, and where it was cut if the
    /// reader had been told of more than was stored (a crash lost the end of the answer).
    static func doneDTO(_ message: Message, offset: Int, pending: PendingSaves, cached: Bool? = nil) -> TurnEndDTO {
        let stored = message.content.utf8.count
        return TurnEndDTO(message: MessageDTO(message), cached: cached, cutAt: offset > stored ? stored : nil,
                          saved: pending.savedFlag(message.id))
    }

    /// Without `Accept: text/event-stream`: waits for the end and answers once. The turn goes
    /// on if the client leaves; a failed turn is an error status, its partial answer saved.
    static func completedTurn(user: Message, follower: inout TurnFollower, pending: PendingSaves) async throws -> Response {
        while true {
            switch await follower.next() {
            case .content, .heartbeat:
                continue
            case .detached:
                throw CancellationError()
            case .ended(.done(let message)):
                return JSONBody.response(CompletedTurnDTO(userMessage: MessageDTO(user), message: MessageDTO(message),
                                                          saved: pending.savedFlag(message.id)))
            case .ended(.cached(let message)):
                return JSONBody.response(CompletedTurnDTO(userMessage: MessageDTO(user), message: MessageDTO(message), cached: true))
            case .ended(.shutdown(let message)):
                throw Problem(.serviceUnavailable, code: "server_shutdown",
                              detail: "the server is restarting; the partial answer is saved as message \(message.id)")
            case .ended(.failed(var failure, let message)):
                failure.savedMessage = message.id
                throw failure
            }
        }
    }

    static func errorEvent(_ code: String, _ message: String) -> ServerSentEvent {
        ServerSentEvent(event: "error", data: "{\"code\":\(jsonQuoted(code)),\"message\":\(jsonQuoted(message))}")
    }
}

extension Request {
    /// Whether the client asked for Server-Sent Events.
    var wantsEventStream: Bool {
        headers["Accept"]?.lowercased().contains("text/event-stream") ?? false
    }

    /// Where a reader resumes: `Last-Event-ID` (what an EventSource sends on reconnect), else
    /// `?after=`, else the start.
    func resumeOffset() throws -> Int {
        if let header = headers["Last-Event-ID"] {
            guard let offset = Int(header), offset >= 0 else { throw JSONBody.validation("Last-Event-ID", "must be the id of a token event (a byte offset)") }
            return offset
        }
        return try queryInteger("after", default: 0, range: 0...Int(Int32.max))
    }
}

extension PendingSaves {
    /// The `saved` member of an answer's JSON: `false` while the database has not taken it,
    /// absent (nil) once it has.
    func savedFlag(_ id: Message.ID) -> Bool? {
        message(id: id) == nil ? nil : false
    }
}
