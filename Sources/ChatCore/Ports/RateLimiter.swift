public import FoundationEssentials

/// A limit a request can run into; the raw value is what clients see.
public enum RateTier: String, Sendable, CaseIterable {
    case perMinute = "per_minute"
    case daily
    case dailyTokens = "daily_tokens"
    case concurrentStreams = "concurrent_streams"
    case authIP = "auth_ip"
    /// Creations (sessions, forks, projects, prompts, API keys) per user per minute.
    case writes
    /// Failed sign-ins of one account within the failure window.
    case loginFailures = "login_failures"
    /// Guests one client address may start in a day.
    case guestsPerClient = "guests_per_client"
}

/// One role's limits; nil means no limit on that tier.
public struct RateLimits: Sendable, Equatable {
    public var perMinute: Int?
    public var daily: Int?
    public var dailyTokens: Int?
    public var concurrentStreams: Int?

    public init(perMinute: Int?, daily: Int?, dailyTokens: Int?, concurrentStreams: Int?) {
        self.perMinute = perMinute
        self.daily = daily
        self.dailyTokens = dailyTokens
        self.concurrentStreams = concurrentStreams
    }

    public static let unlimited = RateLimits(perMinute: nil, daily: nil, dailyTokens: nil, concurrentStreams: nil)
}

/// Where a caller stands on one tier.
public struct TierUsage: Sendable, Equatable {
    public let tier: RateTier
    public let limit: Int
    public let used: Int
    /// When a unit of this tier frees up (per minute: the oldest counted message leaves the
    /// window; daily tiers: 00:00 UTC; streams: the soonest lease expiry).
    public let resetAt: Date

    public init(tier: RateTier, limit: Int, used: Int, resetAt: Date) {
        self.tier = tier
        self.limit = limit
        self.used = used
        self.resetAt = resetAt
    }

    public var remaining: Int { max(0, limit - used) }
}

/// The answer of a limiter: allowed (with where the caller now stands), or refused on a tier.
public enum RateDecision: Sendable, Equatable {
    case allowed([TierUsage])
    case refused(TierUsage)
}

/// A refusal as the API reports it: the tier, when to retry, where the caller stands.
public struct RateRefusal: Sendable, Equatable {
    public let usage: TierUsage
    public let retryAfterSeconds: Int

    public init(_ usage: TierUsage, now: Date) {
        self.usage = usage
        retryAfterSeconds = max(1, Int(usage.resetAt.timeIntervalSince(now).rounded(.up)))
    }
}

/// Counts what callers do against their limits, atomically per call. The in-process limiter
/// serves one instance; the Redis one shares the counts between instances.
public protocol RateLimiter: Sendable {
    /// Counts one message against the per-minute and daily tiers if both, and the daily token
    /// budget, allow it; counts nothing when refused.
    func admitMessage(userID: User.ID, limits: RateLimits, now: Date) async throws -> RateDecision
    /// Adds a finished turn's tokens to the user's daily token count.
    func chargeTokens(userID: User.ID, tokens: Int, now: Date) async throws
    /// Takes a stream lease if the user's and the server's caps allow; it holds until released
    /// or, if its holder dies, until `ttl` passes without a renewal.
    func acquireStream(userID: User.ID, lease: String, limit: Int?, serverLimit: Int?, now: Date, ttl: Duration) async throws -> RateDecision
    func renewStream(userID: User.ID, lease: String, now: Date, ttl: Duration) async throws
    func releaseStream(userID: User.ID, lease: String) async throws
    /// What a turn settles when it ends: gives back its stream lease, if it held one, and adds
    /// its tokens, if counted, to the daily count. One call, so that a shared store does both
    /// in one round trip.
    func settleTurn(userID: User.ID, lease: String?, tokens: Int?, now: Date) async throws
    /// A sliding window of events under `key` (per tier): counts one more if fewer than `limit`
    /// fell within `window` before `now`; with `record` false only reports where the key stands
    /// (refused when the limit is reached) and counts nothing.
    func admitWindow(_ tier: RateTier, key: String, limit: Int, window: Duration, record: Bool, now: Date) async throws -> RateDecision
    /// Gives back the message counted at `admittedAt` (a request the server then refused:
    /// it did nothing, so it costs nothing).
    func refundMessage(userID: User.ID, admittedAt: Date) async throws
    /// Gives back the event counted under `key` at `admittedAt`.
    func refundWindow(_ tier: RateTier, key: String, admittedAt: Date) async throws
    /// Where the user stands on each limited tier, counting nothing.
    func usage(userID: User.ID, limits: RateLimits, now: Date) async throws -> [TierUsage]
}

extension RateLimiter {
    /// Releases, then charges, one call each.
    public func settleTurn(userID: User.ID, lease: String?, tokens: Int?, now: Date) async throws {
        if let lease { try await releaseStream(userID: userID, lease: lease) }
        if let tokens { try await chargeTokens(userID: userID, tokens: tokens, now: now) }
    }

    /// Counts one authentication attempt from a client address (a minute's window).
    public func admitAuth(client: String, limit: Int, now: Date) async throws -> RateDecision {
        try await admitWindow(.authIP, key: client, limit: limit, window: .seconds(60), record: true, now: now)
    }
}

/// The limits of each role, from configuration. Admins are exempt.
public struct RatePolicy: Sendable, Equatable {
    public var user: RateLimits
    public var guest: RateLimits
    /// Authentication attempts per minute per client address; nil for none.
    public var authPerMinute: Int?
    /// Streams at once across the whole deployment; nil for no cap.
    public var serverStreams: Int?
    /// How long a stream lease lives without renewal (a crashed instance's leases end after it).
    public var streamLease: Duration = .seconds(30)

    public init(user: RateLimits, guest: RateLimits, authPerMinute: Int?, serverStreams: Int?) {
        self.user = user
        self.guest = guest
        self.authPerMinute = authPerMinute
        self.serverStreams = serverStreams
    }

    public static let unlimited = RatePolicy(user: .unlimited, guest: .unlimited, authPerMinute: nil, serverStreams: nil)

    public func limits(for role: Role) -> RateLimits {
        switch role {
        case .admin: .unlimited
        case .user: user
        case .guest: guest
        }
    }
}

extension Date {
    /// The next 00:00 UTC after this instant, when daily counts start again.
    public var nextUTCMidnight: Date {
        let day = (timeIntervalSince1970 / 86_400).rounded(.down)
        return Date(timeIntervalSince1970: (day + 1) * 86_400)
    }

    /// The UTC day number, naming daily counters.
    public var utcDay: Int { Int((timeIntervalSince1970 / 86_400).rounded(.down)) }
}
