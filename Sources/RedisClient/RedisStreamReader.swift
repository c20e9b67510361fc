public import Logging
import Synchronization

/// An entry of a Redis stream: its id (`<milliseconds>-<sequence>`) and its fields.
public struct RedisStreamEntry: Sendable, Equatable {
    public let id: String
    public let fields: [String: String]

    public init(id: String, fields: [String: String]) {
        self.id = id
        self.fields = fields
    }
}

/// Follows a changing set of Redis streams with one blocking `XREAD` on a connection of its
/// own (which blocks on that connection's queue, not on the cooperative pool), and hands each
/// new entry to the subscriptions of its stream.
///
/// A subscription added while the read blocks would wait for the block to time out before its
/// stream is read; so every read also follows a small stream of the reader's own (`wakeKey`),
/// and subscribing adds an entry to it, which ends the block at once.
public final class RedisStreamReader: Sendable {
    public struct Subscription: Hashable, Sendable {
        let id: Int
    }

    private struct Follower {
        let key: String
        var cursor: StreamID
        let deliver: @Sendable ([RedisStreamEntry]) -> Void
    }

    private struct State {
        var followers: [Int: Follower] = [:]
        var nextID = 0
        var started = false
    }

    /// How long one `XREAD` blocks when nothing comes.
    static let block: Duration = .seconds(5)
    static let wakeScript = RedisScript("""
        redis.call('XADD', KEYS[1], 'MAXLEN', '~', '16', '*', 'w', '1')
        return redis.call('EXPIRE', KEYS[1], '3600')
        """)

    private let connection: RedisConnection
    private let waker: RedisClient
    private let wakeKey: String
    private let logger: Logger
    private let state = Mutex(State())

    /// `waker` sends the wake-ups (any client of the same Redis); `wakeKey` must be this
    /// reader's alone.
    public init(configuration: RedisConfiguration, waker: RedisClient, wakeKey: String, logger: Logger) {
        var blocking = configuration
        blocking.commandTimeout = Self.block + .seconds(2)
        connection = RedisConnection(configuration: blocking, label: "parley.redis.streams", logger: logger)
        self.waker = waker
        self.wakeKey = wakeKey
        self.logger = logger
    }

    /// Delivers the entries of stream `key` after `id` (all of them by default) as they are
    /// read, in the reader's loop: `deliver` must return quickly.
    public func subscribe(_ key: String, after id: String = "0-0", deliver: @escaping @Sendable ([RedisStreamEntry]) -> Void) async -> Subscription {
        let (subscription, start) = state.withLock { state in
            state.nextID += 1
            state.followers[state.nextID] = Follower(key: key, cursor: StreamID(id) ?? .zero, deliver: deliver)
            defer { state.started = true }
            return (Subscription(id: state.nextID), !state.started)
        }
        if start {
            // Runs for the life of the process, like the instance's other subscriptions.
            Task { [self] in await self.run() }
        } else {
            _ = try? await waker.run(Self.wakeScript, keys: [wakeKey], arguments: [])
        }
        return subscription
    }

    public func unsubscribe(_ subscription: Subscription) {
        state.withLock { _ = $0.followers.removeValue(forKey: subscription.id) }
    }

    /// The streams followed now and where to read each from: the earliest cursor among its
    /// subscriptions.
    private func streams() -> [(key: String, cursor: StreamID)] {
        state.withLock { state in
            var cursors: [String: StreamID] = [:]
            for follower in state.followers.values {
                cursors[follower.key] = min(cursors[follower.key] ?? follower.cursor, follower.cursor)
            }
            return cursors.map { ($0.key, $0.value) }
        }
    }

    private func run() async {
        var wakeCursor = StreamID.zero
        var failures = 0
        let blockMilliseconds = String(Self.block.components.seconds * 1000)
        while true {
            let streams = streams()
            let arguments = ["XREAD", "COUNT", "512", "BLOCK", blockMilliseconds, "STREAMS"] + streams.map(\.key) + [wakeKey]
                + streams.map(\.cursor.description) + [wakeCursor.description]
            let reply: RedisValue
            do {
                reply = try await connection.command(arguments)
            } catch {
                failures += 1
                if failures == 1 { logger.warning("redis stream reads failing; retrying", metadata: ["parley.error": "\(error)"]) }
                try? await Task.sleep(for: .milliseconds(min(50 << min(failures, 6), 2000)))
                continue
            }
            if failures > 0 { logger.info("redis stream reads restored") }
            failures = 0
            for stream in reply.array {
                let parts = stream.array
                guard parts.count == 2, case .string(let key) = parts[0] else { continue }
                let entries = parts[1].array.compactMap(Self.entry)
                if key == wakeKey {
                    if let last = entries.last.flatMap({ StreamID($0.id) }) { wakeCursor = last }
                } else {
                    deliver(entries, of: key)
                }
            }
        }
    }

    private func deliver(_ entries: [RedisStreamEntry], of key: String) {
        let ids = entries.map { StreamID($0.id) ?? .zero }
        let deliveries = state.withLock { state in
            var deliveries: [(@Sendable ([RedisStreamEntry]) -> Void, [RedisStreamEntry])] = []
            for (id, follower) in state.followers where follower.key == key {
                let new = zip(entries, ids).filter { $0.1 > follower.cursor }
                guard let last = new.last else { continue }
                state.followers[id]?.cursor = last.1
                deliveries.append((follower.deliver, new.map(\.0)))
            }
            return deliveries
        }
        for (deliver, new) in deliveries { deliver(new) }
    }

    /// `[id, [field, value, ...]]`.
    private static func entry(_ value: RedisValue) -> RedisStreamEntry? {
        let parts = value.array
        guard parts.count == 2, case .string(let id) = parts[0] else { return nil }
        var fields: [String: String] = [:]
        let flat = parts[1].array
        var index = 0
        while index + 1 < flat.count {
            if case .string(let name) = flat[index], case .string(let text) = flat[index + 1] { fields[name] = text }
            index += 2
        }
        return RedisStreamEntry(id: id, fields: fields)
    }
}

/// A stream entry id, ordered as Redis orders them.
struct StreamID: Comparable, CustomStringConvertible {
    static let zero = StreamID(milliseconds: 0, sequence: 0)
    let milliseconds: UInt64
    let sequence: UInt64

    init(milliseconds: UInt64, sequence: UInt64) {
        self.milliseconds = milliseconds
        self.sequence = sequence
    }

    init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let milliseconds = UInt64(parts[0]), let sequence = UInt64(parts[1]) else { return nil }
        self.init(milliseconds: milliseconds, sequence: sequence)
    }

    var description: String { "\(milliseconds)-\(sequence)" }

    static func < (a: StreamID, b: StreamID) -> Bool {
        (a.milliseconds, a.sequence) < (b.milliseconds, b.sequence)
    }
}
