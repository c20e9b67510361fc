import Synchronization

/// The users authentication has read, kept for a short while so that a request does not
/// read its caller's row every time (`AUTH_CACHE_SECONDS`).
///
/// Every change to a user made through `UserChangeNotifier` drops that user here at once, and
/// is passed on to the other instances (through Redis, when configured), which drop it too: a
/// disabled account or a changed role takes effect on the next request. What no notice reaches
/// (a change while Redis is away, or several instances without Redis) is seen once the entry
/// ages out, after at most the time to live.
public final class UserCache: Sendable {
    private struct Entry {
        let user: User
        let expires: ContinuousClock.Instant
    }

    private struct State {
        var entries: [User.ID: Entry] = [:]
        /// Bumped by every invalidation: a read that began before one is not stored, so a
        /// notice that arrives while the database is read cannot be overtaken by the old row.
        var generation = 0
    }

    private let state = Mutex(State())
    private let timeToLive: Duration
    private let capacity: Int

    public init(timeToLive: Duration, capacity: Int = 10_000) {
        self.timeToLive = timeToLive
        self.capacity = capacity
    }

    /// The user from the cache while fresh, otherwise from `load` (and kept).
    public func user(_ id: User.ID, load: () async throws -> User?) async throws -> User? {
        let now = ContinuousClock.now
        let (cached, generation) = state.withLock { state in
            (state.entries[id].flatMap { $0.expires > now ? $0.user : nil }, state.generation)
        }
        if let cached { return cached }
        let user = try await load()
        guard let user else { return nil }
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= capacity {
                // Full: the expired go first; if none had, start over (a burst of new users
                // costs one read each, never unbounded memory).
                state.entries = state.entries.filter { $0.value.expires > now }
                if state.entries.count >= capacity { state.entries.removeAll(keepingCapacity: true) }
            }
            state.entries[id] = Entry(user: user, expires: now + timeToLive)
        }
        return user
    }

    /// Drops one user, or every user when `id` is nil.
    public func invalidate(_ id: User.ID?) {
        state.withLock { state in
            state.generation += 1
            if let id {
                state.entries.removeValue(forKey: id)
            } else {
                state.entries.removeAll()
            }
        }
    }
}
