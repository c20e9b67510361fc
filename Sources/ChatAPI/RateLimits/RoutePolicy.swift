public import ChatCore
import FoundationEssentials
public import HTTPServer

/// A limit a route declares when it is registered (`router.post(…, limit: limits.writes)`).
/// Before the handler runs, the request is counted against it or refused with a `429` naming
/// the tier; the answer gets the tier's `X-RateLimit-*` headers; and when `refundsRefusals`,
/// a request the handler then refuses (any error: invalid, not found, in conflict, over
/// another limit) is given back, since it did nothing.
public struct RoutePolicy: Sendable {
    /// What one admitted request counted, and how to give it back.
    struct Admission: Sendable {
        let usage: [TierUsage]
        let giveBack: @Sendable () async -> Void
    }

    /// Counts the request or throws the 429; nil when the request is not counted (exempt).
    let admit: @Sendable (Request, Principal?) async throws -> Admission?
    let refundsRefusals: Bool
    let clock: any WallClock

    /// Both policies, in order (either may be nil): the request is counted by each, and what
    /// the second refuses gives back what the first counted.
    static func both(_ first: RoutePolicy?, _ second: RoutePolicy?) -> RoutePolicy? {
        guard let first else { return second }
        guard let second else { return first }
        return RoutePolicy(admit: { request, principal in
            let a = try await first.admit(request, principal)
            let b: Admission?
            do {
                b = try await second.admit(request, principal)
            } catch {
                if first.refundsRefusals { await a?.giveBack() }
                throw error
            }
            return Admission(usage: (a?.usage ?? []) + (b?.usage ?? [])) {
                if first.refundsRefusals { await a?.giveBack() }
                if second.refundsRefusals { await b?.giveBack() }
            }
        }, refundsRefusals: first.refundsRefusals || second.refundsRefusals, clock: first.clock)
    }

    /// At most `limit` requests per `seconds` per key in `tier`'s sliding window (a nil key is
    /// not counted); what the handler then refuses is given back.
    static func window(_ tier: RateTier, limit: Int, seconds: Int, limiter: any RateLimiter, clock: any WallClock,
                       key: @escaping @Sendable (Request, Principal?) -> String?) -> RoutePolicy {
        RoutePolicy(admit: { request, principal in
            guard let key = key(request, principal) else { return nil }
            let now = clock.now()
            switch try await limiter.admitWindow(tier, key: key, limit: limit, window: .seconds(seconds), record: true, now: now) {
            case .allowed(let usage):
                return Admission(usage: usage) { try? await limiter.refundWindow(tier, key: key, admittedAt: now) }
            case .refused(let usage):
                throw DomainError.rateLimited(RateRefusal(usage, now: now))
            }
        }, refundsRefusals: true, clock: clock)
    }

    /// Runs `handler` under the policy.
    func guarded(_ request: Request, _ principal: Principal?, _ handler: () async throws -> Response) async throws -> Response {
        let admission = try await admit(request, principal)
        var response: Response
        do {
            response = try await handler()
        } catch {
            if refundsRefusals { await admission?.giveBack() }
            throw error
        }
        if let admission { RateLimitHeaders.apply(admission.usage, now: clock.now(), to: &response) }
        return response
    }
}

/// The policies routes can declare, built once from the configured limits.
public struct RouteLimits: Sendable {
    let limiter: any RateLimiter
    let policy: RatePolicy
    let clock: any WallClock
    /// Authentication attempts per client address per minute (register, login, guest); nil when
    /// off. Every attempt counts, refused or not: that is what it limits.
    public let authAttempts: RoutePolicy?
    /// Creations (sessions, forks, projects, prompts, API keys) per user per minute; nil when off.
    public let writes: RoutePolicy?
    /// `POST /v1/auth/guest`: the sign-in attempts above, and at most so many guests a day per
    /// client address (`GUEST_DAILY_PER_CLIENT`), so one address cannot mint thousands.
    public let guestCreations: RoutePolicy?

    public init(limiter: any RateLimiter, policy: RatePolicy, writesPerMinute: Int?, clients: ClientAddress, guestsPerClientPerDay: Int? = nil,
                clock: any WallClock = SystemClock()) {
        self.limiter = limiter
        self.policy = policy
        self.clock = clock
        authAttempts = policy.authPerMinute.map { perMinute in
            RoutePolicy(admit: { request, _ in
                let now = clock.now()
                let key = ClientAddress.limitKey(clients.resolve(request))
                switch try await limiter.admitAuth(client: key, limit: perMinute, now: now) {
                case .allowed(let usage): return RoutePolicy.Admission(usage: usage, giveBack: {})
                case .refused(let usage): throw DomainError.rateLimited(RateRefusal(usage, now: now))
                }
            }, refundsRefusals: false, clock: clock)
        }
        let guestsADay = guestsPerClientPerDay.map { perDay in
            RoutePolicy.window(.guestsPerClient, limit: perDay, seconds: 86_400, limiter: limiter, clock: clock) { request, _ in
                ClientAddress.limitKey(clients.resolve(request))
            }
        }
        guestCreations = RoutePolicy.both(authAttempts, guestsADay)
        writes = writesPerMinute.map { perMinute in
            RoutePolicy.window(.writes, limit: perMinute, seconds: 60, limiter: limiter, clock: clock) { _, principal in
                guard let principal, principal.user.role != .admin else { return nil }
                return principal.user.id.description
            }
        }
    }

    /// Messages per user: the per-minute and daily tiers of the caller's role. `isRetry` says
    /// whether a request repeats one already admitted (the same `Idempotency-Key`): it is
    /// answered with what the first one started, so it is neither counted nor refused.
    public func messages(isRetry: @escaping @Sendable (Request, Principal) async throws -> Bool) -> RoutePolicy {
        let limiter = self.limiter, policy = self.policy, clock = self.clock
        return RoutePolicy(admit: { request, principal in
            guard let principal else { return nil }
            let role = policy.limits(for: principal.user.role)
            let limits = RateLimits(perMinute: role.perMinute, daily: role.daily, dailyTokens: nil, concurrentStreams: nil)
            guard limits.perMinute != nil || limits.daily != nil else { return nil }
            if try await isRetry(request, principal) { return nil }
            let now = clock.now(), user = principal.user.id
            switch try await limiter.admitMessage(userID: user, limits: limits, now: now) {
            case .allowed(let usage):
                return RoutePolicy.Admission(usage: usage) { try? await limiter.refundMessage(userID: user, admittedAt: now) }
            case .refused(let usage):
                throw DomainError.rateLimited(RateRefusal(usage, now: now))
            }
        }, refundsRefusals: true, clock: clock)
    }

    /// No limits at all (tests of other things).
    public static func none(limiter: any RateLimiter) -> RouteLimits {
        RouteLimits(limiter: limiter, policy: .unlimited, writesPerMinute: nil, clients: ClientAddress(trusted: []))
    }
}
