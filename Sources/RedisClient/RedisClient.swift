public import Logging
import Synchronization

/// A Lua script run by its SHA1 (`EVALSHA`), loaded on first use and again after `NOSCRIPT`
/// (a Redis restart or `SCRIPT FLUSH` forgets scripts).
public struct RedisScript: Sendable, Hashable {
    public let source: String

    public init(_ source: String) {
        self.source = source
    }
}

/// A small pool of Redis connections. Each has its own serial queue; commands are spread
/// round-robin, so a slow command holds up only those behind it on one connection.
public final class RedisClient: Sendable {
    private let connections: [RedisConnection]
    private let next = Atomic<Int>(0)
    private let loadedScripts = Mutex<[RedisScript: String]>([:])

    public init(configuration: RedisConfiguration, logger: Logger = Logger(label: "parley.redis")) {
        connections = (0..<max(1, configuration.poolSize)).map { RedisConnection(configuration: configuration, label: "parley.redis.\($0)", logger: logger) }
    }

    public func command(_ arguments: [String]) async throws(RedisError) -> RedisValue {
        let index = next.add(1, ordering: .relaxed).oldValue % connections.count
        return try await connections[index].command(arguments)
    }

    public func command(_ arguments: String...) async throws(RedisError) -> RedisValue {
        try await command(arguments)
    }

    /// Runs `script` with `keys` and `arguments`.
    public func run(_ script: RedisScript, keys: [String], arguments: [String]) async throws(RedisError) -> RedisValue {
        let known = loadedScripts.withLock { $0[script] }
        var sha: String
        if let known { sha = known } else { sha = try await load(script) }
        do {
            return try await command(["EVALSHA", sha, String(keys.count)] + keys + arguments)
        } catch where error.kind == .server && error.message.hasPrefix("NOSCRIPT") {
            sha = try await load(script)
            return try await command(["EVALSHA", sha, String(keys.count)] + keys + arguments)
        }
    }

    private func load(_ script: RedisScript) async throws(RedisError) -> String {
        guard case .string(let sha) = try await command("SCRIPT", "LOAD", script.source) else {
            throw RedisError(.server, "SCRIPT LOAD did not return a SHA1")
        }
        loadedScripts.withLock { $0[script] = sha }
        return sha
    }

    /// Whether Redis answers `PING` now.
    public func ping() async -> Bool {
        (try? await command("PING")) == .status("PONG")
    }

    public func close() async {
        for connection in connections { await connection.close() }
    }
}
