import FoundationEssentials

/// Attaches a reader to an assistant message's turn from a byte offset: live if this process
/// generates it, from storage otherwise.
public struct FollowTurn: Sendable {
    let deps: TurnDependencies

    public init(_ deps: TurnDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID, messageID: Message.ID, after offset: Int) async throws -> TurnFollower {
        let session = try await deps.chat.ownSession(sessionID, of: principal)
        return try await Self.follower(deps, sessionID: sessionID, messageID: messageID, after: offset, owner: (principal.user.id, session.model))
    }

    /// `owner` (the session's owner and model) lets an orphaned answer be ended and charged.
    static func follower(_ deps: TurnDependencies, sessionID: ChatSession.ID, messageID: Message.ID, after offset: Int,
                         owner: (id: User.ID, model: String)? = nil) async throws -> TurnFollower {
        let badOffset = DomainError.validation([FieldError("after", "must be a byte offset within the message's content that an event sent")])
        if let turn = deps.registry.turn(forMessage: messageID), turn.userMessage.sessionID == sessionID {
            guard turn.acceptsOffset(offset) else { throw badOffset }
            return TurnFollower(.live(turn), offset: offset)
        }
        guard offset >= 0 else { throw badOffset }
        // Finished here but not yet taken by the database: the answer as it will be stored.
        if let pending = deps.registry.pending.message(id: messageID), pending.sessionID == sessionID {
            return try stored(pending, after: offset, badOffset)
        }
        guard var message = try await deps.chat.messages.find(id: messageID, sessionID: sessionID), message.role == .assistant else {
            throw DomainError.notFound("message")
        }
        if message.status == .streaming {
            let recovery = RecoverAnswers(deps)
            guard !recovery.othersMayGenerate, !deps.registry.holds(session: sessionID), let owner else {
                // Another instance may be generating it: follow its checkpoints.
                return TurnFollower(.elsewhere(message, messages: deps.chat.messages, settings: deps.settings), offset: offset)
            }
            // Alone, and no turn here holds it: nothing will finish it. End it now, so its
            // reader gets what was saved and `done` at once, not keep-alives forever.
            if let ended = try await recovery.end(message, ownerID: owner.id, model: owner.model) {
                message = ended
            } else if let saved = try await deps.chat.messages.find(id: messageID, sessionID: sessionID) {
                message = saved
            }
        }
        return try stored(message, after: offset, badOffset)
    }

    /// A stored answer from `offset`. An offset past its end is a reader that was sent more
    /// than was saved before a crash: it gets `done` (which says where the answer was cut),
    /// not an error. An offset inside a character was never sent by an event.
    private static func stored(_ message: Message, after offset: Int, _ badOffset: DomainError) throws -> TurnFollower {
        let bytes = Array(message.content.utf8)
        guard offset >= bytes.count || bytes[offset] & 0xC0 != 0x80 else { throw badOffset }
        return TurnFollower(.stored(message), offset: offset)
    }
}

/// Stops the turn running in a session: the upstream transfer is cancelled at once and the
/// answer is saved `interrupted` with what was generated.
public struct StopTurn: Sendable {
    let deps: TurnDependencies

    public init(_ deps: TurnDependencies) {
        self.deps = deps
    }

    /// The stopped assistant message as saved. An answer another instance generates is
    /// stopped through `signals`, and its saved row awaited (up to five seconds).
    public func callAsFunction(_ principal: Principal, sessionID: ChatSession.ID) async throws -> Message {
        let session = try await deps.chat.ownSession(sessionID, of: principal)
        if let turn = deps.registry.turn(forSession: sessionID) {
            turn.stop(.requested)
            guard let end = await turn.waitForEnd() else { throw CancellationError() }
            return end.message
        }
        // Already finished, waiting for the database: nothing to stop.
        if let pending = deps.registry.pending.message(inSession: sessionID) { return pending }
        guard let running = try await deps.chat.messages.streaming(sessionID: sessionID) else { throw DomainError.noTurnInProgress }
        let recovery = RecoverAnswers(deps)
        if let signals = deps.signals {
            try await signals.broadcastStop(sessionID)
            for _ in 0..<100 {
                try await Task.sleep(for: .milliseconds(50))
                if let saved = try await deps.chat.messages.find(id: running.id, sessionID: sessionID), saved.status != .streaming { return saved }
            }
            // No instance confirmed: if the row has not moved for a stream lease, its owner is gone.
            guard let latest = try await deps.chat.messages.find(id: running.id, sessionID: sessionID), latest.status == .streaming,
                  deps.chat.clock.now().timeIntervalSince(latest.updatedAt) > deps.policy.streamLease.seconds else {
                throw DomainError.unavailable("the instance generating this answer did not confirm the stop; try again")
            }
            return try await recovery.end(latest, ownerID: principal.user.id, model: session.model) ?? latest
        }
        // Alone, and no turn here holds it: end it with what it has.
        if deps.registry.holds(session: sessionID) { throw DomainError.unavailable("the answer is just starting; stop it again in a moment") }
        if let ended = try await recovery.end(running, ownerID: principal.user.id, model: session.model) { return ended }
        return try await deps.chat.messages.find(id: running.id, sessionID: sessionID) ?? running
    }
}
