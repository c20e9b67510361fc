import Synchronization

/// Where a turn's completion lands as the provider decodes it, on the provider's thread: the
/// text goes straight into the turn (waking its readers), the finish reason and usage are kept
/// for the end, and a checkpoint is started when one is due.
///
/// A checkpoint runs in a task of its own, so tokens keep reaching readers while it writes;
/// at most one runs at a time, and `finish` hands the last one over to be awaited before the
/// final save, which must come after it.
final class TurnSink: CompletionSink {
    struct Ended {
        var finishReason: String?
        var usage: TokenUsage?
        /// The checkpoint still writing, if any.
        var checkpoint: Task<Void, Never>?
    }

    private struct State {
        var ended = Ended()
        var sawDelta = false
        var lastCheckpoint: ContinuousClock.Instant = .now
        var checkpointedBytes = 0
        var checkpointing = false
    }

    private let state = Mutex(State())
    private let turn: Turn
    private let settings: ChatSettings
    private let onFirstToken: @Sendable () -> Void
    private let checkpoint: @Sendable () async -> Void

    init(turn: Turn, settings: ChatSettings, onFirstToken: @escaping @Sendable () -> Void, checkpoint: @escaping @Sendable () async -> Void) {
        self.turn = turn
        self.settings = settings
        self.onFirstToken = onFirstToken
        self.checkpoint = checkpoint
    }

    func receive(_ event: CompletionEvent) {
        switch event {
        case .delta(let text):
            let first = state.withLock { state in
                defer { state.sawDelta = true }
                return !state.sawDelta
            }
            if first { onFirstToken() }
            turn.append(text)
            if turn.stored { checkpointIfDue() }
        case .finished(let reason):
            state.withLock { $0.ended.finishReason = reason }
        case .usage(let usage):
            state.withLock { $0.ended.usage = usage }
        }
    }

    /// Every interval and every so many bytes, whichever comes first: a crash then loses at
    /// most that much of what readers were sent.
    private func checkpointIfDue() {
        let bytes = turn.byteCount
        let now = ContinuousClock.now
        let start = state.withLock { state -> Bool in
            guard !state.checkpointing,
                  now - state.lastCheckpoint >= settings.checkpointInterval || bytes - state.checkpointedBytes >= settings.checkpointBytes
            else { return false }
            state.checkpointing = true
            state.lastCheckpoint = now
            state.checkpointedBytes = bytes
            return true
        }
        guard start else { return }
        let checkpoint = self.checkpoint
        let task = Task {
            await checkpoint()
            self.state.withLock { $0.checkpointing = false }
        }
        state.withLock { $0.ended.checkpoint = task }
    }

    /// What the completion left besides the text; called once the provider has returned.
    func finish() -> Ended {
        state.withLock { $0.ended }
    }
}
