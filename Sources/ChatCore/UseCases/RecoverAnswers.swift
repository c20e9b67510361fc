import FoundationEssentials

/// Ends answers that nothing is generating any more: rows left `streaming` by a crash (at
/// start), or found by a reader or a stop when no turn of this process holds them. Each is
/// saved `interrupted` with what its last checkpoint holds, and charged as any interrupted
/// answer is: usage estimated from its text and the context before it, marked estimated.
public struct RecoverAnswers: Sendable {
    let deps: TurnDependencies

    public init(_ deps: TurnDependencies) {
        self.deps = deps
    }

    /// Answers nothing generates any more: alone (no other instance), every answer left
    /// `streaming` (a crash of this one); with other instances, those whose owner's lease has
    /// lapsed, so a live answer of another instance is never touched. How many were ended.
    public func orphaned() async throws -> Int {
        var ended = 0
        for answer in try await deps.chat.messages.streamingAnswers(lapsedBefore: othersMayGenerate ? deps.chat.clock.now() : nil) {
            if deps.registry.turn(forMessage: answer.message.id) != nil || deps.registry.pending.message(id: answer.message.id) != nil { continue }
            if try await end(answer.message, ownerID: answer.ownerID, model: answer.model) != nil { ended += 1 }
        }
        return ended
    }

    /// Ends one orphaned answer; nil if it was no longer `streaming` (saved meanwhile), or,
    /// with other instances, its owner's lease still holds.
    func end(_ answer: Message, ownerID: User.ID, model: String) async throws -> Message? {
        var context: [Message] = []
        if let parent = answer.parentID {
            context = try await deps.chat.messages.path(to: parent, sessionID: answer.sessionID, count: deps.settings.maxContextMessages)
        }
        var message = answer
        message.status = .interrupted
        message.updatedAt = deps.chat.clock.now()
        message.usage = answer.usage ?? TokenUsage(
            promptTokens: TurnContext.estimatedTokens(context.map { ContextMessage(role: $0.role, content: $0.content) }),
            completionTokens: TurnContext.estimatedTokens(answer.content), estimated: true
        )
        guard try await deps.chat.messages.updateIfStreaming(message, lapsedBefore: othersMayGenerate ? message.updatedAt : nil) else { return nil }
        if let usage = message.usage {
            try await deps.usage.record(UsageEvent(
                id: UsageEvent.ID(deps.chat.ids.newUUID()), userID: ownerID, sessionID: message.sessionID, model: model,
                usage: usage, latencyMilliseconds: 0, at: message.updatedAt
            ))
        }
        return message
    }

    /// Whether a `streaming` row may belong to a turn this process cannot see: with other
    /// instances (signals configured) it may be theirs; alone, nothing else can generate it.
    var othersMayGenerate: Bool { deps.signals != nil }
}
