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
            // No instance confirmed: if its owner's lease has lapsed, the owner is gone; end it.
            guard let latest = try await deps.chat.messages.find(id: running.id, sessionID: sessionID), latest.status == .streaming,
                  let ended = try await recovery.end(latest, ownerID: principal.user.id, model: session.model) else {
                throw DomainError.unavailable("the instance generating this answer did not confirm the stop; try again")
            }
            return ended
        }
        // Alone, and no turn here holds it: end it with what it has.
        if deps.registry.holds(session: sessionID) { throw DomainError.unavailable("the answer is just starting; stop it again in a moment") }
        if let ended = try await recovery.end(running, ownerID: principal.user.id, model: session.model) { return ended }
        return try await deps.chat.messages.find(id: running.id, sessionID: sessionID) ?? running
    }
}
