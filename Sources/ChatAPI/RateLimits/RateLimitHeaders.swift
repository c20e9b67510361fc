public import ChatCore
import FoundationEssentials
public import HTTPServer

/// The `X-RateLimit-*` headers of a limited route: the request tier closest to its limit,
/// with the seconds until it frees up. The stream cap is left out: the answer being sent holds
/// a place only while it runs (it is in `GET /v1/usage`, and a 429 names it).
enum RateLimitHeaders {
    static func apply(_ tiers: [TierUsage], now: Date, to response: inout Response) {
        guard let binding = tiers.filter({ $0.tier != .concurrentStreams }).min(by: { $0.remaining < $1.remaining }) else { return }
        response.headers.set("X-RateLimit-Limit", String(binding.limit))
        response.headers.set("X-RateLimit-Remaining", String(binding.remaining))
        response.headers.set("X-RateLimit-Reset", String(max(0, Int(binding.resetAt.timeIntervalSince(now).rounded(.up)))))
    }
}

/// Per-client limits on authentication (`POST /v1/auth/register|login|guest`), against
/// credential stuffing and account farming.
public struct AuthRateLimit: Sendable {
    let limiter: any RateLimiter
    let perMinute: Int
    let clients: ClientAddress
    let clock: any WallClock

    public init(limiter: any RateLimiter, perMinute: Int, clients: ClientAddress, clock: any WallClock = SystemClock()) {
        self.limiter = limiter
        self.perMinute = perMinute
        self.clients = clients
        self.clock = clock
    }

    /// Counts the attempt; throws the 429 when the client is over its limit.
    func check(_ request: Request) async throws -> [TierUsage] {
        let now = clock.now()
        switch try await limiter.admitAuth(client: ClientAddress.limitKey(clients.resolve(request)), limit: perMinute, now: now) {
        case .allowed(let tiers): return tiers
        case .refused(let tier): throw DomainError.rateLimited(RateRefusal(tier, now: now))
        }
    }

    /// Runs `body` if the client is within its limit, with the limit's headers on the answer.
    public func guarded(_ request: Request, _ body: () async throws -> Response) async throws -> Response {
        let tiers = try await check(request)
        var response = try await body()
        RateLimitHeaders.apply(tiers, now: clock.now(), to: &response)
        return response
    }
}

/// Creations per user per minute (sessions, forks, projects, prompts, API keys), so a script
/// cannot grow the database as fast as it can send; admins are exempt.
public struct WriteRateLimit: Sendable {
    let limiter: any RateLimiter
    let perMinute: Int
    let clock: any WallClock

    public init(limiter: any RateLimiter, perMinute: Int, clock: any WallClock = SystemClock()) {
        self.limiter = limiter
        self.perMinute = perMinute
        self.clock = clock
    }

    /// Counts one creation; throws the 429 (tier `writes`) when the user is over the limit.
    public func check(_ principal: Principal) async throws {
        guard principal.user.role != .admin else { return }
        let now = clock.now()
        if case .refused(let usage) = try await limiter.admitWindow(.writes, key: principal.user.id.description, limit: perMinute,
                                                                   window: .seconds(60), record: true, now: now) {
            throw DomainError.rateLimited(RateRefusal(usage, now: now))
        }
    }
}
