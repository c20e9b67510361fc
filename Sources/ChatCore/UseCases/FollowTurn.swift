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
            // No turn here holds it. Alone, nothing will finish it; with other instances, its
            // owner is gone once its lease has lapsed. Then end it now, so its reader gets what
            // was saved and `done` at once, not keep-alives forever.
            guard !deps.registry.holds(session: sessionID), let owner,
                  let ended = try await RecoverAnswers(deps).end(message, ownerID: owner.id, model: owner.model) else {
                if let saved = try await deps.chat.messages.find(id: messageID, sessionID: sessionID), saved.status != .streaming {
                    return try stored(saved, after: offset, badOffset)
                }
                // Another instance generates it: follow its tail or its checkpoints (the sweep ends it if that instance dies).
                let tail = await deps.signals?.tail(of: messageID, from: offset)
                return TurnFollower(.elsewhere(message, messages: deps.chat.messages, settings: deps.settings, tail: tail), offset: offset)
            }
            message = ended
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
