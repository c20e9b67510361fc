public import ChatCore
import FoundationEssentials
public import RedisClient
import Synchronization

/// The response cache in this process: at most `capacity` answers, the oldest dropped first.
public final class InProcessResponseCache: ResponseCache {
    private struct Entry {
        let answer: CachedAnswer
        let expires: ContinuousClock.Instant
    }

    private let capacity: Int
    private let entries = Mutex<(byKey: [String: Entry], order: [String])>(([:], []))

    public init(capacity: Int = 1000) {
        self.capacity = capacity
    }

    public func answer(for key: String) async throws -> CachedAnswer? {
        entries.withLock { entries in
            guard let entry = entries.byKey[key] else { return nil }
            if entry.expires < .now {
                entries.byKey[key] = nil
                return nil
            }
            return entry.answer
        }
    }

    public func store(_ answer: CachedAnswer, for key: String, ttl: Duration) async throws {
        entries.withLock { entries in
            if entries.byKey.updateValue(Entry(answer: answer, expires: .now + ttl), forKey: key) == nil { entries.order.append(key) }
            while entries.order.count > capacity {
                entries.byKey[entries.order.removeFirst()] = nil
            }
        }
    }
}

/// The response cache in Redis, shared by every instance: one JSON value per key, expiring.
public struct RedisResponseCache: ResponseCache {
    let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    public func answer(for key: String) async throws -> CachedAnswer? {
        guard case .string(let json) = try await redis.command("GET", "parley:cache:\(key)") else { return nil }
        return try? JSONDecoder().decode(CachedAnswer.self, from: Data(json.utf8))
    }

    public func store(_ answer: CachedAnswer, for key: String, ttl: Duration) async throws {
        let json = String(decoding: try JSONEncoder().encode(answer), as: UTF8.self)
        _ = try await redis.command("SET", "parley:cache:\(key)", json, "PX", String(max(1, ttl.milliseconds)))
    }
}
