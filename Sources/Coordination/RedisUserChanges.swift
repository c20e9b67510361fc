public import ChatCore
public import Logging
public import RedisClient

/// Changes to users passed between instances over Redis: the instance that writes a change
/// publishes the user's id on `parley:users` (`*` for many at once), and every instance drops
/// that user from its `UserCache`, so a disabled account or a changed role is refused or
/// honoured on the next request wherever it lands.
public struct RedisUserChanges: Sendable {
    public static let channel = "parley:users"
    static let everyone = "*"

    let redis: RedisClient
    let logger: Logger

    public init(redis: RedisClient, logger: Logger) {
        self.redis = redis
        self.logger = logger
    }

    /// Tells the other instances. A Redis that cannot take it is logged, not fatal: their
    /// caches then see the change when the entry ages out (`AUTH_CACHE_SECONDS`).
    public func publish(_ id: User.ID?) async {
        do {
            _ = try await redis.command("PUBLISH", Self.channel, id?.description ?? Self.everyone)
        } catch {
            logger.warning("a change to a user could not be passed on to the other instances",
                           metadata: ["parley.error": "\(error)"])
        }
    }

    /// The subscription that empties `cache` of the users other instances changed (and of
    /// those this one did: harmless, it has dropped them already). Each time it is established
    /// the whole cache is dropped, since changes published while it was down never arrive.
    public func listen(configuration: RedisConfiguration, cache: UserCache) -> RedisSubscriber {
        RedisSubscriber(configuration: configuration, channels: [Self.channel], logger: logger,
                        onSubscribed: { cache.invalidate(nil) }) { _, text in
            if text == Self.everyone {
                cache.invalidate(nil)
            } else if let id = User.ID(text) {
                cache.invalidate(id)
            }
        }
    }
}
