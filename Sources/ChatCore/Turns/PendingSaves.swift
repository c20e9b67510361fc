import Dispatch
import FoundationEssentials
public import Logging
import Synchronization

/// Finished answers the database did not take yet, and their usage: kept in memory and
/// written again with back-off (0.5 s doubling to 30 s) until the database takes them, so an
/// answer a client was told about is never dropped however long an outage lasts. Readers and
/// stops find them here meanwhile; at shutdown what is left goes to a spool file that the
/// next start replays before anything else (`spool(to:)`, `replay(from:…)`).
///
/// At most `capacity` answers are held; past that an answer is spooled to disk at once (if a
/// spool file is configured) rather than kept in memory.
public final class PendingSaves: Sendable {
    struct Entry: Sendable {
        /// The message still to be written (nil once written).
        var message: Message?
        /// The usage still to be recorded (nil once recorded, or if there is none).
        var usage: UsageEvent?
    }

    private struct State {
        var entries: [Message.ID: Entry] = [:]
        var draining = false
    }

    private let state = Mutex(State())
    public let capacity: Int
    /// Where `spool` writes; nil keeps everything in memory.
    public let spoolPath: String?

    public init(capacity: Int = 10_000, spoolPath: String? = nil) {
        self.capacity = capacity
        self.spoolPath = spoolPath
    }

    /// Answers not yet saved.
    public var count: Int { state.withLock { $0.entries.count } }

    /// The answer as it will be stored, if it is waiting to be saved.
    public func message(id: Message.ID) -> Message? {
        state.withLock { $0.entries[id]?.message }
    }

    /// The answer of `session` waiting to be saved, if any.
    public func message(inSession session: ChatSession.ID) -> Message? {
        state.withLock { $0.entries.values.lazy.compactMap(\.message).first { $0.sessionID == session } }
    }

    /// Keeps `message` and/or `usage` to be written, and starts writing them again with back-off.
    func add(message: Message?, usage: UsageEvent?, messages: any MessageRepository, usageRepository: any UsageRepository, logger: Logger) {
        guard message != nil || usage != nil else { return }
        let key = message?.id ?? Message.ID(UUID())
        let (start, over) = state.withLock { state -> (Bool, Bool) in
            state.entries[key] = Entry(message: message, usage: usage)
            defer { state.draining = true }
            return (!state.draining, state.entries.count > capacity)
        }
        if over, let spoolPath {
            logger.error("too many answers waiting for the database; spooling them to disk", metadata: ["parley.count": "\(count)"])
            Task { _ = try? await Self.offThePool { try self.spool(to: spoolPath) } }
        }
        if start { Task { await drain(messages: messages, usage: usageRepository, logger: logger) } }
    }

    /// Writes until nothing is left, backing off while the database refuses.
    private func drain(messages: any MessageRepository, usage: any UsageRepository, logger: Logger) async {
        var delay: Duration = .milliseconds(500)
        while true {
            let batch = state.withLock { state -> [(Message.ID, Entry)] in
                if state.entries.isEmpty { state.draining = false }
                return Array(state.entries)
            }
            if batch.isEmpty { return }
            var progress = false
            for (key, entry) in batch {
                if await write(entry, key: key, messages: messages, usage: usage) { progress = true }
            }
            if state.withLock({ $0.entries.isEmpty }) { continue }
            delay = progress ? .milliseconds(500) : min(delay * 2, .seconds(30))
            try? await Task.sleep(for: delay)
        }
    }

    /// Tries one entry; true if anything of it was written.
    private func write(_ entry: Entry, key: Message.ID, messages: any MessageRepository, usage: any UsageRepository) async -> Bool {
        var entry = entry, wrote = false
        if let message = entry.message, (try? await messages.update(message)) != nil {
            entry.message = nil
            wrote = true
        }
        if let event = entry.usage, (try? await usage.record(event)) != nil {
            entry.usage = nil
            wrote = true
        }
        state.withLock { state in
            if entry.message == nil && entry.usage == nil { state.entries[key] = nil } else { state.entries[key] = entry }
        }
        return wrote
    }

    /// At shutdown: waits up to `timeout` for what is held to be written, then spools the rest
    /// (if a spool file is configured); returns how many answers were spooled.
    public func finish(within timeout: Duration, logger: Logger) async -> Int {
        let deadline = ContinuousClock.now + timeout
        while count > 0, ContinuousClock.now < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        guard count > 0 else { return 0 }
        guard let spoolPath else {
            logger.error("answers not saved and no spool file configured", metadata: ["parley.count": "\(count)"])
            return 0
        }
        do {
            let spooled = try await Self.offThePool { try self.spool(to: spoolPath) }
            logger.warning("answers the database did not take were spooled; the next start saves them",
                           metadata: ["parley.count": "\(spooled)", "parley.spool": "\(spoolPath)"])
            return spooled
        } catch {
            logger.critical("answers could not be spooled", metadata: ["parley.error": "\(error)", "parley.spool": "\(spoolPath)"])
            return 0
        }
    }

    /// Appends everything held to the spool file at `path` (mode 0600) and forgets it; returns
    /// how many answers were spooled.
    @discardableResult
    public func spool(to path: String) throws -> Int {
        let entries = state.withLock { state in
            defer { state.entries = [:] }
            return Array(state.entries.values)
        }
        guard !entries.isEmpty else { return 0 }
        let encoder = JSONEncoder()
        var text = ""
        for entry in entries {
            text += String(decoding: try encoder.encode(SpooledSave(entry)), as: UTF8.self) + "\n"
        }
        let existing = (try? Data(contentsOf: URL(fileURLWithPath: path))) ?? Data()
        try (existing + Data(text.utf8)).write(to: URL(fileURLWithPath: path), options: .atomic)
        try? FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path)
        return entries.count
    }

    /// Writes the answers a previous run spooled, then removes the file; returns how many.
    /// A usage event recorded before (its id taken) counts as written.
    public static func replay(from path: String, messages: any MessageRepository, usage: any UsageRepository) async throws -> Int {
        guard let data = try? await offThePool({ try Data(contentsOf: URL(fileURLWithPath: path)) }) else { return 0 }
        let decoder = JSONDecoder()
        var count = 0
        for line in data.split(separator: UInt8(ascii: "\n")) where !line.isEmpty {
            let saved = try decoder.decode(SpooledSave.self, from: Data(line))
            if let message = saved.messageValue { try await messages.update(message) }
            if let event = saved.usageEvent {
                do { try await usage.record(event) } catch let error as any DependencyFailure where error.isConstraintViolation {}
            }
            count += 1
        }
        try await offThePool { try FileManager.default.removeItem(atPath: path) }
        return count
    }

    /// File work runs on a Dispatch queue, never on the cooperative pool.
    static func offThePool<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try work() }) }
        }
    }
}

/// One spooled answer as a line of JSON.
struct SpooledSave: Codable {
    struct StoredMessage: Codable {
        var id, sessionID: String
        var position: Int
        var role, content, status: String
        var finishReason: String?
        var promptTokens, completionTokens: Int?
        var estimated: Bool
        var createdAt, updatedAt: Double
    }

    struct StoredUsage: Codable {
        var id, userID: String
        var sessionID: String?
        var model: String
        var promptTokens, completionTokens: Int
        var estimated: Bool
        var latencyMilliseconds: Int
        var at: Double
    }

    var message: StoredMessage?
    var usage: StoredUsage?

    init(_ entry: PendingSaves.Entry) {
        message = entry.message.map { m in
            StoredMessage(id: m.id.description, sessionID: m.sessionID.description, position: m.position, role: m.role.rawValue, content: m.content,
                          status: m.status.rawValue, finishReason: m.finishReason, promptTokens: m.usage?.promptTokens,
                          completionTokens: m.usage?.completionTokens, estimated: m.usage?.estimated ?? false,
                          createdAt: m.createdAt.timeIntervalSince1970, updatedAt: m.updatedAt.timeIntervalSince1970)
        }
        usage = entry.usage.map { u in
            StoredUsage(id: u.id.description, userID: u.userID.description, sessionID: u.sessionID?.description, model: u.model,
                        promptTokens: u.usage.promptTokens, completionTokens: u.usage.completionTokens, estimated: u.usage.estimated,
                        latencyMilliseconds: u.latencyMilliseconds, at: u.at.timeIntervalSince1970)
        }
    }

    var messageValue: Message? {
        guard let m = message, let id = Message.ID(m.id), let session = ChatSession.ID(m.sessionID), let role = Message.Role(rawValue: m.role),
              let status = Message.Status(rawValue: m.status) else { return nil }
        let usage = m.promptTokens.map { TokenUsage(promptTokens: $0, completionTokens: m.completionTokens ?? 0, estimated: m.estimated) }
        return Message(id: id, sessionID: session, position: m.position, role: role, content: m.content, status: status, finishReason: m.finishReason,
                       usage: usage, createdAt: Date(timeIntervalSince1970: m.createdAt), updatedAt: Date(timeIntervalSince1970: m.updatedAt))
    }

    var usageEvent: UsageEvent? {
        guard let u = usage, let id = UsageEvent.ID(u.id), let user = User.ID(u.userID) else { return nil }
        return UsageEvent(id: id, userID: user, sessionID: u.sessionID.flatMap(ChatSession.ID.init), model: u.model,
                          usage: TokenUsage(promptTokens: u.promptTokens, completionTokens: u.completionTokens, estimated: u.estimated),
                          latencyMilliseconds: u.latencyMilliseconds, at: Date(timeIntervalSince1970: u.at))
    }
}
