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

    /// A Redis that cannot be reached is the domain's "unavailable" (a 503 with `Retry-After`).
    public func broadcastStop(_ session: ChatSession.ID) async throws {
        do {
            _ = try await redis.command("PUBLISH", Self.channel, session.description)
        } catch let error as RedisError {
            throw DomainError.unavailable("the stop could not be passed on to the other instances (\(error.message)); try again")
        }
    }

    /// The subscription that carries the requests to this instance's turns.
    public static func listen(configuration: RedisConfiguration, registry: TurnRegistry, logger: Logger) -> RedisSubscriber {
        RedisSubscriber(configuration: configuration, channel: channel, logger: logger) { text in
            if let session = ChatSession.ID(text) { registry.stop(session: session) }
        }
    }
}
