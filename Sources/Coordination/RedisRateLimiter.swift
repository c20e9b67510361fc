public import ChatCore
public import FoundationEssentials
public import RedisClient

/// The limits kept in Redis, shared by every instance. Each call is one Lua script, so a check
/// and its count are atomic however many instances race. Keys carry the user in braces (one
/// cluster slot per user); the time is the caller's, so tests can move it.
public struct RedisRateLimiter: RateLimiter {
    let redis: RedisClient

    public init(redis: RedisClient) {
        self.redis = redis
    }

    /// KEYS: minute log (sorted set of message times), today's count, today's tokens.
    /// ARGV: now (ms), per-minute, daily and token limits (-1: none), a unique member,
    /// ms until midnight, "1" to only look. Returns {allowed, refused tier (1 minute, 2 daily,
    /// 3 tokens), in the last minute, today, tokens today, oldest time in the window}.
    static let admit = RedisScript("""
    local now = tonumber(ARGV[1])
    local minuteLimit, dayLimit, tokenLimit = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - 60000)
    local inMinute = redis.call('ZCARD', KEYS[1])
    local today = tonumber(redis.call('GET', KEYS[2]) or '0')
    local tokens = tonumber(redis.call('GET', KEYS[3]) or '0')
    local oldest = now
    if inMinute > 0 then oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) end
    if minuteLimit >= 0 and inMinute >= minuteLimit then return {0, 1, inMinute, today, tokens, oldest} end
    if dayLimit >= 0 and today >= dayLimit then return {0, 2, inMinute, today, tokens, oldest} end
    if tokenLimit >= 0 and tokens >= tokenLimit then return {0, 3, inMinute, today, tokens, oldest} end
    if ARGV[7] == '1' then return {1, 0, inMinute, today, tokens, oldest} end
    redis.call('ZADD', KEYS[1], now, ARGV[5])
    redis.call('PEXPIRE', KEYS[1], 60000)
    today = redis.call('INCR', KEYS[2])
    redis.call('PEXPIRE', KEYS[2], ARGV[6])
    return {1, 0, inMinute + 1, today, tokens, oldest}
    """)

    /// KEYS: today's tokens. ARGV: tokens, ms until midnight.
    static let charge = RedisScript("""
    redis.call('INCRBY', KEYS[1], ARGV[1])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    return 1
    """)

    /// KEYS: the user's leases, every lease, today's tokens. ARGV: the lease ('' for none),
    /// tokens (-1 for none), ms until past midnight.
    static let settle = RedisScript("""
    if ARGV[1] ~= '' then
      redis.call('ZREM', KEYS[1], ARGV[1])
      redis.call('ZREM', KEYS[2], ARGV[1])
    end
    if tonumber(ARGV[2]) >= 0 then
      redis.call('INCRBY', KEYS[3], ARGV[2])
      redis.call('PEXPIRE', KEYS[3], ARGV[3])
    end
    return 1
    """)

    /// KEYS: the user's leases, every lease (sorted sets scored by expiry). ARGV: now (ms), ttl
    /// (ms), user cap, server cap (-1: none), lease. Returns {allowed, refused on (1 user,
    /// 2 server), count, soonest expiry}.
    static let acquire = RedisScript("""
    local now, ttl = tonumber(ARGV[1]), tonumber(ARGV[2])
    local userLimit, serverLimit = tonumber(ARGV[3]), tonumber(ARGV[4])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
    redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
    local mine, all = redis.call('ZCARD', KEYS[1]), redis.call('ZCARD', KEYS[2])
    local function soonest(key)
      local first = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
      if first[2] then return tonumber(first[2]) end
      return now
    end
    if userLimit >= 0 and mine >= userLimit then return {0, 1, mine, soonest(KEYS[1])} end
    if serverLimit >= 0 and all >= serverLimit then return {0, 2, all, soonest(KEYS[2])} end
    redis.call('ZADD', KEYS[1], now + ttl, ARGV[5])
    redis.call('PEXPIRE', KEYS[1], ttl)
    redis.call('ZADD', KEYS[2], now + ttl, ARGV[5])
    redis.call('PEXPIRE', KEYS[2], ttl)
    return {1, 0, mine + 1, now + ttl}
    """)

    /// KEYS: the user's leases, every lease. ARGV: new expiry (ms), ttl (ms), lease.
    static let renew = RedisScript("""
    redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[3])
    redis.call('PEXPIRE', KEYS[1], ARGV[2])
    redis.call('ZADD', KEYS[2], 'XX', ARGV[1], ARGV[3])
    redis.call('PEXPIRE', KEYS[2], ARGV[2])
    return 1
    """)

    /// KEYS: the client's attempt log. ARGV: now (ms), limit, unique member. Returns
    /// {allowed, count, oldest}.
    /// A sliding window: ARGV now (ms), limit, member, window (ms), record (1 or 0).
    static let window = RedisScript("""
    local now, limit, span = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[4])
    redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - span)
    local count = redis.call('ZCARD', KEYS[1])
    local oldest = now
    if count > 0 then oldest = tonumber(redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')[2]) end
    if count >= limit then return {0, count, oldest} end
    if ARGV[5] ~= '1' then return {1, count, oldest} end
    redis.call('ZADD', KEYS[1], now, ARGV[3])
    redis.call('PEXPIRE', KEYS[1], span)
    return {1, count + 1, oldest}
    """)

    /// KEYS: a log (sorted set of event times), optionally today's count. ARGV: the time (ms)
    /// the event was counted at. Removes one event of that time and, with a count, takes one off it.
    static let refund = RedisScript("""
    local members = redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], ARGV[1], 'LIMIT', 0, 1)
    if not members[1] then return 0 end
    redis.call('ZREM', KEYS[1], members[1])
    if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > 0 then redis.call('DECR', KEYS[2]) end
    return 1
    """)

    static let allStreams = "parley:streams"

    static func keys(_ user: User.ID, _ now: Date) -> (minute: String, day: String, tokens: String, streams: String) {
        let u = "{\(user)}"
        return ("parley:rl:\(u):minute", "parley:rl:\(u):day:\(now.utcDay)", "parley:rl:\(u):tokens:\(now.utcDay)", "parley:rl:\(u):streams")
    }

    static func windowKey(_ tier: RateTier, _ key: String) -> String { "parley:window:\(tier.rawValue):{\(key)}" }

    static func ms(_ date: Date) -> Int { Int((date.timeIntervalSince1970 * 1000).rounded(.down)) }
    static func date(_ ms: Int) -> Date { Date(timeIntervalSince1970: Double(ms) / 1000) }

    public func admitMessage(userID: User.ID, limits: RateLimits, now: Date) async throws -> RateDecision {
        let k = Self.keys(userID, now)
        let reply = try await redis.run(Self.admit, keys: [k.minute, k.day, k.tokens], arguments: [
            String(Self.ms(now)), String(limits.perMinute ?? -1), String(limits.daily ?? -1), String(limits.dailyTokens ?? -1),
            "\(Self.ms(now))-\(UUID())", String(Self.ms(now.nextUTCMidnight) - Self.ms(now) + 60_000), "0",
        ]).array.map { $0.int ?? 0 }
        guard reply.count == 6 else { throw RedisError(.server, "the admit script answered \(reply.count) values") }
        let tiers = InProcessRateLimiter.tiers(limits, inMinute: reply[2], oldest: Self.date(reply[5]), today: reply[3], tokens: reply[4], now: now)
        if reply[0] == 1 { return .allowed(tiers) }
        let refused: RateTier = reply[1] == 1 ? .perMinute : reply[1] == 2 ? .daily : .dailyTokens
        guard let usage = tiers.first(where: { $0.tier == refused }) else { throw RedisError(.server, "the admit script refused an unknown tier") }
        return .refused(usage)
    }

    public func refundMessage(userID: User.ID, admittedAt: Date) async throws {
        let k = Self.keys(userID, admittedAt)
        _ = try await redis.run(Self.refund, keys: [k.minute, k.day], arguments: [String(Self.ms(admittedAt))])
    }

    public func refundWindow(_ tier: RateTier, key: String, admittedAt: Date) async throws {
        _ = try await redis.run(Self.refund, keys: [Self.windowKey(tier, key)], arguments: [String(Self.ms(admittedAt))])
    }

    public func chargeTokens(userID: User.ID, tokens: Int, now: Date) async throws {
        _ = try await redis.run(Self.charge, keys: [Self.keys(userID, now).tokens],
                                arguments: [String(tokens), String(Self.ms(now.nextUTCMidnight) - Self.ms(now) + 60_000)])
    }

    public func acquireStream(userID: User.ID, lease: String, limit: Int?, serverLimit: Int?, now: Date, ttl: Duration) async throws -> RateDecision {
        let reply = try await redis.run(Self.acquire, keys: [Self.keys(userID, now).streams, Self.allStreams], arguments: [
            String(Self.ms(now)), String(ttl.milliseconds), String(limit ?? -1), String(serverLimit ?? -1), lease,
        ]).array.map { $0.int ?? 0 }
        guard reply.count == 4 else { throw RedisError(.server, "the acquire script answered \(reply.count) values") }
        if reply[0] == 1 {
            return .allowed(limit.map { [TierUsage(tier: .concurrentStreams, limit: $0, used: reply[2], resetAt: Self.date(reply[3]))] } ?? [])
        }
        let cap = (reply[1] == 1 ? limit : serverLimit) ?? 0
        return .refused(TierUsage(tier: .concurrentStreams, limit: cap, used: reply[2], resetAt: Self.date(reply[3])))
    }

    public func renewStream(userID: User.ID, lease: String, now: Date, ttl: Duration) async throws {
        _ = try await redis.run(Self.renew, keys: [Self.keys(userID, now).streams, Self.allStreams],
                                arguments: [String(Self.ms(now) + ttl.milliseconds), String(ttl.milliseconds), lease])
    }

    public func releaseStream(userID: User.ID, lease: String) async throws {
        try await settleTurn(userID: userID, lease: lease, tokens: nil, now: Date())
    }

    public func settleTurn(userID: User.ID, lease: String?, tokens: Int?, now: Date) async throws {
        guard lease != nil || tokens != nil else { return }
        let keys = Self.keys(userID, now)
        _ = try await redis.run(Self.settle, keys: [keys.streams, Self.allStreams, keys.tokens], arguments: [
            lease ?? "", String(tokens ?? -1), String(Self.ms(now.nextUTCMidnight) - Self.ms(now) + 60_000),
        ])
    }

    public func admitWindow(_ tier: RateTier, key: String, limit: Int, window: Duration, record: Bool, now: Date) async throws -> RateDecision {
        let span = Int(window.milliseconds)
        let reply = try await redis.run(Self.window, keys: [Self.windowKey(tier, key)],
                                        arguments: [String(Self.ms(now)), String(limit), "\(Self.ms(now))-\(UUID())", String(span), record ? "1" : "0"])
            .array.map { $0.int ?? 0 }
        guard reply.count == 3 else { throw RedisError(.server, "the window script answered \(reply.count) values") }
        let usage = TierUsage(tier: tier, limit: limit, used: reply[1], resetAt: Self.date(reply[2] + span))
        return reply[0] == 1 ? .allowed([usage]) : .refused(usage)
    }

    public func usage(userID: User.ID, limits: RateLimits, now: Date) async throws -> [TierUsage] {
        // A peek with no limits always reports the counts; the real limits are applied here.
        let k = Self.keys(userID, now)
        let reply = try await redis.run(Self.admit, keys: [k.minute, k.day, k.tokens],
                                        arguments: [String(Self.ms(now)), "-1", "-1", "-1", "", "0", "1"]).array.map { $0.int ?? 0 }
        guard reply.count == 6 else { throw RedisError(.server, "the admit script answered \(reply.count) values") }
        var tiers = InProcessRateLimiter.tiers(limits, inMinute: reply[2], oldest: Self.date(reply[5]), today: reply[3], tokens: reply[4], now: now)
        if let limit = limits.concurrentStreams {
            let live = try await redis.command("ZRANGEBYSCORE", k.streams, "(\(Self.ms(now))", "+inf", "WITHSCORES").array
            let expiries = stride(from: 1, to: live.count, by: 2).compactMap { live[$0].int }
            tiers.append(TierUsage(tier: .concurrentStreams, limit: limit, used: expiries.count, resetAt: expiries.min().map(Self.date) ?? now))
        }
        return tiers
    }
}
