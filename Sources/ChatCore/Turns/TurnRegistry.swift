import Synchronization

/// The turns this process is generating, by session and by assistant message. One turn runs
/// per session at a time; a send while one runs is refused, so two answers never interleave.
public final class TurnRegistry: Sendable {
    private enum Slot {
        /// A send has claimed the session and is writing its messages.
        case reserved
        case running(Turn)
    }

    private struct State {
        var bySession: [ChatSession.ID: Slot] = [:]
        var byMessage: [Message.ID: Turn] = [:]
        var accepting = true
    }

    private let state = Mutex(State())
    /// Finished answers the database has not taken yet.
    public let pending: PendingSaves

    /// Wakes idle readers every `keepAliveInterval` so they can send a keep-alive comment:
    /// one timer for all streams instead of one per stream.
    public init(keepAliveInterval: Duration, pending: PendingSaves = PendingSaves()) {
        self.pending = pending
        Task { [weak self] in
            while true {
                try? await Task.sleep(for: keepAliveInterval)
                guard let self else { return }
                for turn in self.running { turn.heartbeat() }
            }
        }
    }

    public var running: [Turn] {
        state.withLock { Array($0.byMessage.values) }
    }

    public func turn(forMessage id: Message.ID) -> Turn? {
        state.withLock { $0.byMessage[id] }
    }

    public func turn(forSession id: ChatSession.ID) -> Turn? {
        state.withLock { state in
            if case .running(let turn) = state.bySession[id] { return turn }
            return nil
        }
    }

    /// Whether a send or a turn of this process holds `session` (a turn may be starting).
    public func holds(session id: ChatSession.ID) -> Bool {
        state.withLock { $0.bySession[id] != nil }
    }

    /// Stops the answer running here in `session`, if any (a stop relayed from another instance).
    public func stop(session id: ChatSession.ID) {
        turn(forSession: id)?.stop(.requested)
    }

    /// Claims `session` for a new turn.
    func reserve(_ session: ChatSession.ID) throws(DomainError) {
        try state.withLock { state throws(DomainError) in
            guard state.accepting else { throw .unavailable("the server is shutting down; send the message again in a moment") }
            guard state.bySession[session] == nil else { throw .turnInProgress }
            state.bySession[session] = .reserved
        }
    }

    /// Gives a reserved session back (its send failed or joined an earlier turn).
    func release(_ session: ChatSession.ID) {
        state.withLock { state in
            if case .reserved = state.bySession[session] { state.bySession[session] = nil }
        }
    }

    func activate(_ turn: Turn) {
        state.withLock { state in
            state.bySession[turn.userMessage.sessionID] = .running(turn)
            state.byMessage[turn.assistantMessage.id] = turn
        }
    }

    func remove(_ turn: Turn) {
        state.withLock { state in
            state.bySession[turn.userMessage.sessionID] = nil
            state.byMessage[turn.assistantMessage.id] = nil
        }
    }

    /// Refuses new turns, lets running ones finish for most of `gracePeriod`, then stops the
    /// rest (they save what they generated and tell their readers `server_shutdown`) and waits
    /// for them to be saved.
    public func shutdown(gracePeriod: Duration) async {
        state.withLock { $0.accepting = false }
        let clock = ContinuousClock()
        // Time kept back for stopped turns to write their content and reach their readers.
        let margin = min(.seconds(2), gracePeriod / 2)
        await waitUntilIdle(until: clock.now + gracePeriod - margin)
        for turn in running { turn.stop(.shutdown) }
        await waitUntilIdle(until: clock.now + margin)
    }

    private func waitUntilIdle(until deadline: ContinuousClock.Instant) async {
        while state.withLock({ !$0.bySession.isEmpty }), ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
    }
}
