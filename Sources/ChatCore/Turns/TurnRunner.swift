import FoundationEssentials
import Logging

/// Generates one turn in a task of its own, so that it outlives the request that started it:
/// streams the completion into the turn, checkpoints the content, and on the end saves the
/// message, records the usage and tells the readers.
struct TurnRunner: Sendable {
    let deps: TurnDependencies

    /// What the generation produced besides the content.
    private struct Generated: Sendable {
        var finishReason: String?
        var usage: TokenUsage?
        var failure: ProviderError?
        var cached = false
    }

    func start(_ turn: Turn, request: CompletionRequest) {
        Task { await run(turn, request: request) }
    }

    private func run(_ turn: Turn, request: CompletionRequest) async {
        let started = ContinuousClock.now
        // Stop and shutdown cancel only the generation; saving happens here, uncancelled.
        // Keyed by the owner too: a shared cache would tell one user, by `cached`, whether
        // another had sent the same conversation.
        let cacheKey = deps.cache.map { $0.digest("u=\(turn.ownerID)|" + Self.canonical(request)) }
        let generation = Task {
            if let cacheKey, let hit = await cachedAnswer(cacheKey) { return replay(hit, into: turn) }
            return await generate(turn, request: request, started: started)
        }
        turn.attach { generation.cancel() }
        let renewal = renewLease(of: turn)
        let generated = await generation.value
        renewal?.cancel()

        var message = turn.assistantMessage
        message.content = turn.content
        message.updatedAt = deps.chat.clock.now()
        let stop = turn.stopReason
        if generated.failure != nil {
            message.status = .failed
        } else if stop != nil {
            message.status = .interrupted
        } else {
            message.status = .complete
            message.finishReason = generated.finishReason
        }
        message.usage = generated.usage ?? TokenUsage(
            promptTokens: TurnContext.estimatedTokens(request.messages), completionTokens: TurnContext.estimatedTokens(message.content),
            estimated: true
        )
        await persist(message, of: turn, latency: ContinuousClock.now - started)
        await settleLimits(of: turn, usage: message.usage)

        if let cacheKey, !generated.cached, message.status == .complete, let usage = message.usage, let cache = deps.cache {
            let answer = CachedAnswer(content: message.content, finishReason: message.finishReason,
                                      promptTokens: usage.promptTokens, completionTokens: usage.completionTokens)
            do { try await cache.cache.store(answer, for: cacheKey, ttl: cache.ttl) } catch {
                deps.logger.warning("response cache not written", metadata: ["parley.error": "\(error)"])
            }
        }

        let end: TurnEnd
        if generated.cached, message.status == .complete {
            end = .cached(message)
        } else if let failure = generated.failure {
            end = .failed(Self.failure(failure), message)
        } else if stop == .shutdown {
            end = .shutdown(message)
        } else {
            end = .done(message)
        }
        // The session is let go before the readers are told: a client that answers `done` with
        // its next message at once must find the session free, not this turn still in it.
        deps.registry.remove(turn)
        turn.finish(end)
        let failureCode: String? = if case .failed(let failure, _) = end { failure.code } else { nil }
        deps.observer?.turnEnded(model: turn.model, status: message.status, failure: failureCode,
                                 completionTokens: message.usage?.completionTokens ?? 0)
    }

    private func generate(_ turn: Turn, request: CompletionRequest, started: ContinuousClock.Instant) async -> Generated {
        var generated = Generated()
        let observer = deps.observer
        let sink = TurnSink(turn: turn, settings: deps.settings,
                            onFirstToken: { observer?.firstToken(model: request.model, after: ContinuousClock.now - started) },
                            checkpoint: { await checkpoint(turn) })
        do {
            try await deps.provider.complete(request, into: sink)
        } catch where Task.isCancelled {
            // Stopped: the stop reason says how the turn ends.
        } catch let error as ProviderError {
            generated.failure = error
        } catch {
            generated.failure = ProviderError(.failed, "the answer could not be read: \(type(of: error))")
        }
        let ended = sink.finish()
        generated.finishReason = ended.finishReason
        generated.usage = ended.usage
        // The final save must not be overtaken by a checkpoint of less.
        await ended.checkpoint?.value
        return generated
    }

    private func cachedAnswer(_ key: String) async -> CachedAnswer? {
        do {
            return try await deps.cache?.cache.answer(for: key)
        } catch {
            deps.logger.warning("response cache not read", metadata: ["parley.error": "\(error)"])
            return nil
        }
    }

    /// Puts a cached answer into the turn at once: its readers get it as one `token` event
    /// (pacing it out would only make the client wait for what is already here).
    private func replay(_ answer: CachedAnswer, into turn: Turn) -> Generated {
        turn.append(answer.content)
        return Generated(finishReason: answer.finishReason,
                         usage: TokenUsage(promptTokens: answer.promptTokens, completionTokens: answer.completionTokens), cached: true)
    }

    /// The request as one text for the cache key: model, parameters and every message, each
    /// length-prefixed so no two requests read the same.
    static func canonical(_ request: CompletionRequest) -> String {
        var text = "\(request.model.utf8.count):\(request.model)|t=\(request.temperature.map { "\($0)" } ?? "-")|m=\(request.maxTokens.map { "\($0)" } ?? "-")"
        if let topP = request.topP { text += "|p=\(topP)" }
        for sequence in request.stop ?? [] { text += "|s=\(sequence.utf8.count):\(sequence)" }
        for message in request.messages {
            text += "|\(message.role.rawValue):\(message.content.utf8.count):\(message.content)"
        }
        return text
    }

    /// Keeps the turn's leases alive while it runs, renewing at a third of their lifetime: its
    /// stream place (if streams are capped) and, when other instances may sweep (signals
    /// configured), its ownership of the answer's row, so that none ends it while the upstream
    /// is silent. Alone, nothing reads the row's lease, and no task is needed for it: an idle
    /// stream costs no timer of its own.
    private func renewLease(of turn: Turn) -> Task<Void, Never>? {
        let ownsRow = deps.signals != nil && turn.stored
        guard turn.lease != nil || ownsRow else { return nil }
        let limiter = deps.limiter, ttl = deps.policy.streamLease, clock = deps.chat.clock, messages = deps.chat.messages
        return Task {
            while true {
                do { try await CancellableSleep.for(ttl / 3) } catch { return }
                let now = clock.now()
                if let lease = turn.lease { try? await limiter.renewStream(userID: turn.ownerID, lease: lease, now: now, ttl: ttl) }
                if ownsRow { try? await messages.renewLease(of: turn.assistantMessage.id, until: now.adding(ttl)) }
            }
        }
    }

    /// Gives the stream lease back and charges the turn's tokens to the daily budget.
    private func settleLimits(of turn: Turn, usage: TokenUsage?) async {
        do {
            try await deps.limiter.settleTurn(userID: turn.ownerID, lease: turn.lease, tokens: usage.map { $0.promptTokens + $0.completionTokens },
                                              now: deps.chat.clock.now())
        } catch {
            // An unreleased lease expires on its own; a missed charge is logged.
            deps.logger.warning("rate limiter not updated at the end of a turn", metadata: ["parley.error": "\(error)"])
        }
    }

    /// Writes the content so far, so a crash loses at most one interval of it.
    private func checkpoint(_ turn: Turn) async {
        var snapshot = turn.assistantMessage
        snapshot.content = turn.content
        snapshot.updatedAt = deps.chat.clock.now()
        do {
            try await deps.chat.messages.checkpoint(snapshot, leaseUntil: snapshot.updatedAt.adding(deps.policy.streamLease))
        } catch {
            deps.logger.warning("checkpoint of an answer failed", metadata: ["parley.error": "\(error)"])
        }
    }

    /// Saves the finished message and records its usage. What the database does not take
    /// now goes to the registry's pending saves, which write it with back-off for as long as
    /// the outage lasts (and spool it at shutdown): a finished answer is never dropped, and
    /// its readers' `done` says `saved: false` meanwhile.
    private func persist(_ message: Message, of turn: Turn, latency: Duration) async {
        let event = message.usage.map { usage in
            UsageEvent(id: UsageEvent.ID(deps.chat.ids.newUUID()), userID: turn.ownerID, sessionID: turn.stored ? message.sessionID : nil,
                       model: turn.model, usage: usage, latencyMilliseconds: latency.milliseconds, at: deps.chat.clock.now())
        }
        // Both in one commit; if that fails, each alone, so that what the database takes is
        // kept and only the rest waits (a session deleted meanwhile refuses the usage event's
        // reference to it: the event alone is then recorded without it).
        if turn.stored, let event, (try? await deps.store.finish(message, usage: event)) != nil { return }
        var unsaved: Message?
        if turn.stored {
            do {
                try await deps.chat.messages.update(message)
            } catch {
                deps.logger.warning("saving an answer failed; it is kept and written again", metadata: ["parley.message": "\(message.id)", "parley.error": "\(error)"])
                unsaved = message
            }
        }
        var unrecorded: UsageEvent?
        if let event {
            do {
                try await deps.usage.record(event)
            } catch {
                deps.logger.warning("usage not recorded; it is kept and written again", metadata: ["parley.message": "\(message.id)", "parley.error": "\(error)"])
                unrecorded = event
            }
        }
        deps.registry.pending.add(message: unsaved, usage: unrecorded, messages: deps.chat.messages, usageRepository: deps.usage, logger: deps.logger)
    }

    static func failure(_ error: ProviderError) -> TurnFailure {
        switch error.kind {
        case .timeout: TurnFailure(.upstreamTimeout, message: error.message)
        case .rateLimited: TurnFailure(.rateLimited, message: error.message)
        case .unreachable, .rejected, .failed: TurnFailure(.upstreamError, message: error.message)
        }
    }
}
