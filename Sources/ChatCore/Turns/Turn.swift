import Synchronization

/// How a turn ended, as its readers learn it. Each case carries the assistant message as stored.
/// `indirect` keeps it (and `TurnUpdate`) one word wide: every reader's async frames hold
/// these while waiting, and with the message inline an idle stream cost 1 KiB more.
public indirect enum TurnEnd: Sendable, Equatable {
    /// Generated to the end (`complete`) or stopped on request (`interrupted`).
    case done(Message)
    /// The upstream failed; the message is `failed` with what was generated before.
    case failed(TurnFailure, Message)
    /// The server is shutting down; the message is `interrupted` with what was generated.
    case shutdown(Message)
    /// Answered from the response cache (`complete`).
    case cached(Message)

    public var message: Message {
        switch self {
        case .done(let message), .failed(_, let message), .shutdown(let message), .cached(let message): message
        }
    }
}

/// Why a turn failed, with a stable code for clients (`upstream_timeout`, `upstream_error`,
/// `rate_limited`) and words a user can read.
public struct TurnFailure: Error, Sendable, Equatable {
    public enum Kind: String, Sendable {
        case upstreamTimeout = "upstream_timeout"
        case upstreamError = "upstream_error"
        case rateLimited = "rate_limited"
    }

    public let kind: Kind
    public let message: String
    /// The saved message, where the failure is answered on its own (the JSON mode).
    public var savedMessage: Message.ID?

    public var code: String { kind.rawValue }

    public init(_ kind: Kind, message: String, savedMessage: Message.ID? = nil) {
        self.kind = kind
        self.message = message
        self.savedMessage = savedMessage
    }
}

/// What a reader of a turn gets next.
public enum TurnUpdate: Sendable, Equatable {
    /// The content from the reader's offset to `offset`, the byte length delivered so far.
    case content(String, offset: Int)
    /// Nothing happened for a while: a chance to keep an idle connection open.
    case heartbeat
    case ended(TurnEnd)
    /// The reading task was cancelled (its client went away); the turn goes on.
    case detached
}

/// One turn being generated in this process: the content so far and whoever is reading it.
///
/// The content is kept once, as UTF-8 bytes; each reader only remembers its byte offset and
/// takes everything past it when it wakes. A slow reader therefore costs no memory and gets
/// what it missed as one delta, and any number of readers can follow one turn.
public final class Turn: Sendable {
    public enum StopReason: Sendable, Equatable {
        case requested
        case shutdown
    }

    public let userMessage: Message
    /// The assistant's message as created: `streaming`, empty.
    public let assistantMessage: Message
    public let ownerID: User.ID
    public let model: String
    /// The concurrent-stream lease the turn holds while it runs, if streams are capped.
    public let lease: String?

    private struct Waiter {
        let offset: Int
        let continuation: CheckedContinuation<TurnUpdate, Never>
    }

    private struct State {
        var content: [UInt8] = []
        var end: TurnEnd?
        var waiters: [Int: Waiter] = [:]
        var nextWaiterID = 0
        var stopReason: StopReason?
        var cancelGeneration: (@Sendable () -> Void)?

        /// What a reader at `offset` gets without waiting, if anything.
        func ready(after offset: Int) -> TurnUpdate? {
            if content.count > offset {
                return .content(String(decoding: content[offset...], as: UTF8.self), offset: content.count)
            }
            return end.map(TurnUpdate.ended)
        }

        /// Removes the waiters that now have something, with what each gets.
        mutating func takeWaiters() -> [(Waiter, TurnUpdate)] {
            var woken: [(Waiter, TurnUpdate)] = []
            for (id, waiter) in waiters {
                if let update = ready(after: waiter.offset) {
                    woken.append((waiter, update))
                    waiters.removeValue(forKey: id)
                }
            }
            return woken
        }
    }

    private let state = Mutex(State())

    /// Whether its messages are stored: false for an answer that is only returned (an OpenAI
    /// API request without a session), which is neither checkpointed nor saved, only charged.
    public let stored: Bool

    public init(userMessage: Message, assistantMessage: Message, ownerID: User.ID, model: String, lease: String? = nil, stored: Bool = true) {
        self.userMessage = userMessage
        self.assistantMessage = assistantMessage
        self.ownerID = ownerID
        self.model = model
        self.lease = lease
        self.stored = stored
    }

    /// The content generated so far.
    public var content: String {
        state.withLock { String(decoding: $0.content, as: UTF8.self) }
    }

    /// Readers waiting for something to happen (tests wait on it instead of sleeping).
    var waitingReaders: Int { state.withLock { $0.waiters.count } }

    /// Bytes of content generated so far.
    public var byteCount: Int { state.withLock { $0.content.count } }

    public var end: TurnEnd? { state.withLock { $0.end } }

    public var stopReason: StopReason? { state.withLock { $0.stopReason } }

    /// Whether a reader may start at `offset`: within the content so far and not inside a
    /// UTF-8 sequence (every offset parley sends is a boundary between deltas).
    public func acceptsOffset(_ offset: Int) -> Bool {
        state.withLock { state in
            guard offset >= 0, offset <= state.content.count else { return false }
            return offset == state.content.count || state.content[offset] & 0xC0 != 0x80
        }
    }

    /// The next thing for a reader that has the content up to `offset`: new content at once
    /// if there is some, otherwise whatever comes first (content, the end, a heartbeat).
    public func next(after offset: Int) async -> TurnUpdate {
        if let update = state.withLock({ $0.ready(after: offset) }) { return update }
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Checked under the lock: a cancellation either happened before (the flag is
                // set) or its handler runs after and finds the waiter registered.
                let immediate: TurnUpdate? = state.withLock { state in
                    if let update = state.ready(after: offset) { return update }
                    if Task.isCancelled { return .detached }
                    state.waiters[id] = Waiter(offset: offset, continuation: continuation)
                    return nil
                }
                if let immediate { continuation.resume(returning: immediate) }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.continuation.resume(returning: .detached)
        }
    }

    /// Waits for the end, ignoring content; nil if the waiting task was cancelled.
    public func waitForEnd() async -> TurnEnd? {
        while true {
            switch await next(after: state.withLock { $0.content.count }) {
            case .ended(let end): return end
            case .detached: return nil
            case .content, .heartbeat: continue
            }
        }
    }

    // MARK: - Driven by the runner and the registry

    func append(_ delta: String) {
        guard !delta.isEmpty else { return }
        let woken = state.withLock { state -> [(Waiter, TurnUpdate)] in
            state.content.append(contentsOf: delta.utf8)
            return state.takeWaiters()
        }
        for (waiter, update) in woken { waiter.continuation.resume(returning: update) }
    }

    func finish(_ end: TurnEnd) {
        let woken = state.withLock { state -> [(Waiter, TurnUpdate)] in
            state.end = end
            return state.takeWaiters()
        }
        for (waiter, update) in woken { waiter.continuation.resume(returning: update) }
    }

    /// Wakes every idle reader with `.heartbeat`.
    func heartbeat() {
        let waiters = state.withLock { state in
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.continuation.resume(returning: .heartbeat) }
    }

    /// Asks the generation to end now; the first reason given is the one that counts.
    func stop(_ reason: StopReason) {
        let cancel = state.withLock { state -> (@Sendable () -> Void)? in
            if state.stopReason == nil, state.end == nil { state.stopReason = reason }
            return state.cancelGeneration
        }
        cancel?()
    }

    /// How to cancel the task generating the content; called at once if a stop came first.
    func attach(cancelGeneration cancel: @escaping @Sendable () -> Void) {
        let stopped = state.withLock { state in
            state.cancelGeneration = cancel
            return state.stopReason != nil
        }
        if stopped { cancel() }
    }
}
