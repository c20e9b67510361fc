public import ChatCore
public import Logging
public import RedisClient
import Synchronization

/// What instances tell each other about turns, over Redis.
///
/// - Stop: `broadcastStop` publishes the session id on `parley:stop`; every instance stops the
///   answer it runs in that session, if any.
/// - Live tails: a reader whose answer runs on another instance publishes the answer's id on
///   `parley:watch` and reads the stream `parley:tail:<id>`. The owner, on the first such
///   request, appends the answer to that stream from byte 0 and then every delta as it comes
///   (`o` = the byte the text starts at, `t` = the text; `e` = 1 ends it). The stream is
///   trimmed to about `maxEntries` entries and expires `ttlSeconds` after its last entry.
///   Deltas that come while an append is on its way go out together in the next one, so a
///   slow Redis costs entries, not memory or order.
public final class RedisTurnSignals: TurnSignals {
    public static let stopChannel = "parley:stop"
    public static let watchChannel = "parley:watch"
    static let maxEntries = 2048
    static let ttlSeconds = 300
    static let appendScript = RedisScript("""
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'o', ARGV[2], 't', ARGV[3])
        return redis.call('EXPIRE', KEYS[1], ARGV[4])
        """)
    static let endScript = RedisScript("""
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'e', '1')
        return redis.call('EXPIRE', KEYS[1], ARGV[2])
        """)

    let redis: RedisClient
    let reader: RedisStreamReader
    let logger: Logger
    /// Answers of this instance whose tail is being published.
    private let publishing = Mutex<Set<Message.ID>>([])

    /// `instanceID` names this instance's own wake-up stream.
    public init(redis: RedisClient, configuration: RedisConfiguration, instanceID: String, logger: Logger) {
        self.redis = redis
        self.logger = logger
        let wakeKey = "parley:wake:\(instanceID):\(UInt64.random(in: 0...UInt64.max))"
        reader = RedisStreamReader(configuration: configuration, waker: redis, wakeKey: wakeKey, logger: logger)
    }

    static func tailKey(_ message: Message.ID) -> String { "parley:tail:\(message)" }

    /// A Redis that cannot be reached is the domain's "unavailable" (a 503 with `Retry-After`).
    public func broadcastStop(_ session: ChatSession.ID) async throws {
        do {
            _ = try await redis.command("PUBLISH", Self.stopChannel, session.description)
        } catch {
            throw DomainError.unavailable("the stop could not be passed on to the other instances (\(error.message)); try again")
        }
    }

    /// The subscription that carries stops and tail requests to this instance's turns.
    public func listen(configuration: RedisConfiguration, registry: TurnRegistry) -> RedisSubscriber {
        RedisSubscriber(configuration: configuration, channels: [Self.stopChannel, Self.watchChannel], logger: logger) { [self] channel, text in
            switch channel {
            case Self.stopChannel:
                if let session = ChatSession.ID(text) { registry.stop(session: session) }
            case Self.watchChannel:
                if let message = Message.ID(text), let turn = registry.turn(forMessage: message) { publish(turn) }
            default:
                break
            }
        }
    }

    // MARK: - Reader side

    public func tail(of message: Message.ID, from offset: Int) async -> (any TurnTail)? {
        let tail = RedisTail(message: message, signals: self)
        tail.attach(await reader.subscribe(Self.tailKey(message)) { [weak tail] entries in tail?.receive(entries) })
        guard await tail.requestPublishing() else { return nil }
        return tail
    }

    func unsubscribe(_ subscription: RedisStreamReader.Subscription) {
        reader.unsubscribe(subscription)
    }

    // MARK: - Owner side

    /// Starts appending `turn` to its tail stream, unless that is already under way.
    func publish(_ turn: Turn) {
        let id = turn.assistantMessage.id
        guard publishing.withLock({ $0.insert(id).inserted }) else { return }
        Task { [self] in
            defer { _ = publishing.withLock { $0.remove(id) } }
            let key = Self.tailKey(id)
            var offset = 0
            do {
                loop: while true {
                    switch await turn.next(after: offset) {
                    case .content(let text, let next):
                        _ = try await redis.run(Self.appendScript, keys: [key],
                                                arguments: [String(Self.maxEntries), String(offset), text, String(Self.ttlSeconds)])
                        offset = next
                    case .heartbeat:
                        continue
                    case .ended, .detached:
                        break loop
                    }
                }
                _ = try await redis.run(Self.endScript, keys: [key], arguments: [String(Self.maxEntries), "60"])
            } catch {
                // Its readers notice the silence and follow its checkpoints instead.
                logger.warning("answer tail not published", metadata: ["parley.message": "\(id)", "parley.error": "\(error)"])
            }
        }
    }
}

/// One reader's feed of `parley:tail:<id>`: entries arrive on the stream reader's thread and
/// wait here until the reader takes them.
final class RedisTail: TurnTail {
    private struct State {
        var pieces: [TailPiece] = []
        /// The reader waiting for a piece, and the timer that wakes it when none comes.
        var waiter: (id: Int, continuation: CheckedContinuation<TailPiece, Never>, timer: Task<Void, Never>?)?
        var nextWaiterID = 0
        var cancelled = false
        var subscription: RedisStreamReader.Subscription?
    }

    let message: Message.ID
    let signals: RedisTurnSignals
    private let state = Mutex(State())

    init(message: Message.ID, signals: RedisTurnSignals) {
        self.message = message
        self.signals = signals
    }

    deinit {
        if let subscription = state.withLock({ $0.subscription }) { signals.unsubscribe(subscription) }
    }

    func attach(_ subscription: RedisStreamReader.Subscription) {
        state.withLock { $0.subscription = subscription }
    }

    /// Asks the owner to publish (again: a request may have been lost); false if Redis cannot
    /// take the request.
    func requestPublishing() async -> Bool {
        (try? await signals.redis.command("PUBLISH", RedisTurnSignals.watchChannel, message.description)) != nil
    }

    func receive(_ entries: [RedisStreamEntry]) {
        let pieces: [TailPiece] = entries.compactMap { entry in
            if entry.fields["e"] != nil { return .ended }
            guard let start = entry.fields["o"].flatMap({ Int($0) }), let text = entry.fields["t"] else { return nil }
            return .content(start: start, text: text)
        }
        let waiter = state.withLock { state -> (CheckedContinuation<TailPiece, Never>, Task<Void, Never>?, TailPiece)? in
            state.pieces.append(contentsOf: pieces)
            guard let waiter = state.waiter, !state.pieces.isEmpty else { return nil }
            state.waiter = nil
            return (waiter.continuation, waiter.timer, state.pieces.removeFirst())
        }
        if let (continuation, timer, piece) = waiter {
            timer?.cancel()
            continuation.resume(returning: piece)
        }
    }

    func next(timeout: Duration) async -> TailPiece {
        let id = state.withLock { state in
            state.nextWaiterID += 1
            return state.nextWaiterID
        }
        let piece = await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<TailPiece, Never>) in
                let immediate: TailPiece? = state.withLock { state in
                    if !state.pieces.isEmpty { return state.pieces.removeFirst() }
                    if state.cancelled || Task.isCancelled { return .cancelled }
                    state.waiter = (id, continuation, nil)
                    return nil
                }
                if let immediate {
                    continuation.resume(returning: immediate)
                } else {
                    // A piece usually comes first: it cancels the timer, so waits do not pile
                    // up sleeping tasks at one per token.
                    let timer = Task { [weak self] in
                        guard (try? await CancellableSleep.for(timeout)) != nil else { return }
                        self?.resume(id, with: .timedOut)
                    }
                    let stillWaiting = state.withLock { state in
                        guard state.waiter?.id == id else { return false }
                        state.waiter?.timer = timer
                        return true
                    }
                    if !stillWaiting { timer.cancel() }
                }
            }
        } onCancel: {
            state.withLock { $0.cancelled = true }
            resume(id, with: .cancelled)
        }
        // Quiet for a whole timeout: the request to publish may have been lost (a subscription
        // reconnecting), or the owner was not yet running the answer when it came.
        if piece == .timedOut { _ = await requestPublishing() }
        return piece
    }

    private func resume(_ id: Int, with piece: TailPiece) {
        let waiter = state.withLock { state -> (continuation: CheckedContinuation<TailPiece, Never>, timer: Task<Void, Never>?)? in
            guard let waiter = state.waiter, waiter.id == id else { return nil }
            state.waiter = nil
            return (waiter.continuation, waiter.timer)
        }
        waiter?.timer?.cancel()
        waiter?.continuation.resume(returning: piece)
    }
}
