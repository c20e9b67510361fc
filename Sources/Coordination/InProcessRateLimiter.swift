public import ChatCore
public import FoundationEssentials
import Synchronization

/// The limits kept in this process: the embedded default without `REDIS_URL`. The same
/// algorithm as the Redis limiter: a sliding log of the last minute's messages, daily counters
/// named by the UTC day, stream leases that expire unless renewed.
public final class InProcessRateLimiter: RateLimiter {
    private struct State {
        var minute: [User.ID: [Date]] = [:]
        var daily: [User.ID: (day: Int, count: Int)] = [:]
        var tokens: [User.ID: (day: Int, count: Int)] = [:]
        var streams: [User.ID: [String: Date]] = [:]
        var allStreams: [String: Date] = [:]
        /// Sliding windows by tier and key (sign-ins per address, writes per user, failures per account).
        var windows: [String: [Date]] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    public func admitMessage(userID: User.ID, limits: RateLimits, now: Date) async throws -> RateDecision {
        state.withLock { state in
            let log = (state.minute[userID] ?? []).filter { $0 > now.addingTimeInterval(-60) }
            let today = state.daily[userID].flatMap { $0.day == now.utcDay ? $0.count : nil } ?? 0
            let tokens = state.tokens[userID].flatMap { $0.day == now.utcDay ? $0.count : nil } ?? 0
            let tiers = Self.tiers(limits, inMinute: log.count, oldest: log.first, today: today, tokens: tokens, now: now)
            if let refused = tiers.first(where: { $0.used >= $0.limit }) {
                state.minute[userID] = log
                return .refused(refused)
            }
            state.minute[userID] = log + [now]
            state.daily[userID] = (now.utcDay, today + 1)
            return .allowed(Self.tiers(limits, inMinute: log.count + 1, oldest: log.first ?? now, today: today + 1, tokens: tokens, now: now))
        }
    }

    public func refundMessage(userID: User.ID, admittedAt: Date) async throws {
        state.withLock { state in
            guard let index = state.minute[userID]?.lastIndex(of: admittedAt) else { return }
            state.minute[userID]?.remove(at: index)
            if let daily = state.daily[userID], daily.day == admittedAt.utcDay, daily.count > 0 {
                state.daily[userID] = (daily.day, daily.count - 1)
            }
        }
    }

    public func refundWindow(_ tier: RateTier, key: String, admittedAt: Date) async throws {
        state.withLock { state in
            let name = tier.rawValue + ":" + key
            if let index = state.windows[name]?.lastIndex(of: admittedAt) { state.windows[name]?.remove(at: index) }
        }
    }

    public func chargeTokens(userID: User.ID, tokens: Int, now: Date) async throws {
        state.withLock { state in
            let spent = state.tokens[userID].flatMap { $0.day == now.utcDay ? $0.count : nil } ?? 0
            state.tokens[userID] = (now.utcDay, spent + tokens)
        }
    }

    public func acquireStream(userID: User.ID, lease: String, limit: Int?, serverLimit: Int?, now: Date, ttl: Duration) async throws -> RateDecision {
        state.withLock { state in
            let mine = (state.streams[userID] ?? [:]).filter { $0.value > now }
            state.allStreams = state.allStreams.filter { $0.value > now }
            if let limit, mine.count >= limit {
                state.streams[userID] = mine
                return .refused(TierUsage(tier: .concurrentStreams, limit: limit, used: mine.count, resetAt: mine.values.min() ?? now))
            }
            if let serverLimit, state.allStreams.count >= serverLimit {
                return .refused(TierUsage(tier: .concurrentStreams, limit: serverLimit, used: state.allStreams.count,
                                          resetAt: state.allStreams.values.min() ?? now))
            }
            let expiry = now.addingTimeInterval(ttl.seconds)
            state.streams[userID] = mine.merging([lease: expiry]) { $1 }
            state.allStreams[lease] = expiry
            return .allowed(limit.map { [TierUsage(tier: .concurrentStreams, limit: $0, used: mine.count + 1, resetAt: expiry)] } ?? [])
        }
    }

    public func renewStream(userID: User.ID, lease: String, now: Date, ttl: Duration) async throws {
        state.withLock { state in
            let expiry = now.addingTimeInterval(ttl.seconds)
            if state.streams[userID]?[lease] != nil { state.streams[userID]?[lease] = expiry }
            if state.allStreams[lease] != nil { state.allStreams[lease] = expiry }
        }
    }

    public func releaseStream(userID: User.ID, lease: String) async throws {
        state.withLock { state in
            state.streams[userID]?[lease] = nil
            state.allStreams[lease] = nil
        }
    }

    public func admitWindow(_ tier: RateTier, key: String, limit: Int, window: Duration, record: Bool, now: Date) async throws -> RateDecision {
        let name = tier.rawValue + ":" + key, seconds = window.seconds
        return state.withLock { state in
            let log = (state.windows[name] ?? []).filter { $0 > now.addingTimeInterval(-seconds) }
            let resetAt = (log.first ?? now).addingTimeInterval(seconds)
            if log.count >= limit {
                state.windows[name] = log
                return .refused(TierUsage(tier: tier, limit: limit, used: log.count, resetAt: resetAt))
            }
            guard record else {
                state.windows[name] = log.isEmpty ? nil : log
                return .allowed([TierUsage(tier: tier, limit: limit, used: log.count, resetAt: resetAt)])
            }
            state.windows[name] = log + [now]
            return .allowed([TierUsage(tier: tier, limit: limit, used: log.count + 1, resetAt: resetAt)])
        }
    }

    public func usage(userID: User.ID, limits: RateLimits, now: Date) async throws -> [TierUsage] {
        state.withLock { state in
            let log = (state.minute[userID] ?? []).filter { $0 > now.addingTimeInterval(-60) }
            let today = state.daily[userID].flatMap { $0.day == now.utcDay ? $0.count : nil } ?? 0
            let tokens = state.tokens[userID].flatMap { $0.day == now.utcDay ? $0.count : nil } ?? 0
            var tiers = Self.tiers(limits, inMinute: log.count, oldest: log.first, today: today, tokens: tokens, now: now)
            if let limit = limits.concurrentStreams {
                let mine = (state.streams[userID] ?? [:]).filter { $0.value > now }
                tiers.append(TierUsage(tier: .concurrentStreams, limit: limit, used: mine.count, resetAt: mine.values.min() ?? now))
            }
            return tiers
        }
    }

    /// The message tiers that have a limit, as counted.
    static func tiers(_ limits: RateLimits, inMinute: Int, oldest: Date?, today: Int, tokens: Int, now: Date) -> [TierUsage] {
        var tiers: [TierUsage] = []
        if let limit = limits.perMinute {
            tiers.append(TierUsage(tier: .perMinute, limit: limit, used: inMinute, resetAt: (oldest ?? now).addingTimeInterval(60)))
        }
        if let limit = limits.daily { tiers.append(TierUsage(tier: .daily, limit: limit, used: today, resetAt: now.nextUTCMidnight)) }
        if let limit = limits.dailyTokens { tiers.append(TierUsage(tier: .dailyTokens, limit: limit, used: tokens, resetAt: now.nextUTCMidnight)) }
        return tiers
    }
}
