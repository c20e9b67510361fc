public import ChatCore
public import Logging
public import RedisClient

/// Stop requests between instances over Redis pub/sub: `broadcastStop` publishes the session
/// id; every instance subscribes and stops the answer it runs in that session, if any.
public struct RedisTurnSignals: TurnSignals {
    public static let channel = "parley:stop"
    let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    public func broadcastStop(_ session: ChatSession.ID) async throws {
        _ = try await redis.command("PUBLISH", Self.channel, session.description)
    }

    /// The subscription that carries the requests to this instance's turns.
    public static func listen(configuration: RedisConfiguration, registry: TurnRegistry, logger: Logger) -> RedisSubscriber {
        RedisSubscriber(configuration: configuration, channel: channel, logger: logger) { text in
            if let session = ChatSession.ID(text) { registry.stop(session: session) }
        }
    }
}
