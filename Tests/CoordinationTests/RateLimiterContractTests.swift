import ChatCore
import Foundation
import HTTPServerTesting
import ProcessTesting
import Logging
import Coordination
import RedisClient
import Testing

/// Where the limits are kept: this process, or the Redis that `make test` starts.
enum LimiterBackend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case inProcess
    case redis

    var testDescription: String { rawValue }

    /// The backends to run here: Redis when `make test` started one (always in CI, where a
    /// missing one fails). Left out otherwise, and `redisIsReachable` says so as a skip.
    static var available: [LimiterBackend] { ThrowawayService.redisConfigured ? allCases : [.inProcess] }

    /// A limiter; nil when Redis is not configured here (outside CI only).
    func make() -> (any RateLimiter)? {
        switch self {
        case .inProcess:
            return InProcessRateLimiter()
        case .redis:
            guard let url = ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS_URL"], let configuration = try? RedisConfiguration(url: url) else {
                if ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("PARLEY_TEST_REDIS_URL is not set; `make test` starts a Redis") }
                return nil
            }
            return RedisRateLimiter(redis: RedisClient(configuration: configuration))
        }
    }
}

/// The same boundaries, held by both limiters. Each test uses new user ids, so runs never
/// see each other's counts in the shared Redis.
@Suite(.timeLimit(.minutes(5))) struct RateLimiterContractTests {
    /// Mid-morning UTC, so the minute window never crosses midnight by accident.
    let t0 = Date(timeIntervalSince1970: (Date().timeIntervalSince1970 / 86_400).rounded(.down) * 86_400 + 36_000)

    func allowed(_ decision: RateDecision) -> Bool {
        if case .allowed = decision { return true }
        return false
    }

    func refusedTier(_ decision: RateDecision) -> TierUsage? {
        if case .refused(let usage) = decision { return usage }
        return nil
    }

    @Test(arguments: LimiterBackend.available)
    func perMinuteAllowsNThenRefusesUntilTheWindowSlides(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let user = User.ID(UUID())
        let limits = RateLimits(perMinute: 3, daily: nil, dailyTokens: nil, concurrentStreams: nil)
        for second in [0.0, 10, 20] {
            let decision = try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(second))
            #expect(allowed(decision), "message at +\(second) s")
        }
        let refused = try #require(refusedTier(try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(30))))
        #expect(refused.tier == .perMinute)
        #expect(refused.used == 3)
        #expect(abs(refused.resetAt.timeIntervalSince(t0.addingTimeInterval(60))) < 0.01, "the first message leaves the window at +60 s")
        #expect(RateRefusal(refused, now: t0.addingTimeInterval(30)).retryAfterSeconds == 30)
        #expect(!allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(59.9))))
        #expect(allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(60.1))), "one slot freed")
        #expect(!allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(65))), "not two")
        // A refused message was not counted: at +70.1 the +10 message has left, so one more fits.
        #expect(allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(70.1))))
    }

    @Test(arguments: LimiterBackend.available)
    func dailyQuotaResetsAtMidnightUTC(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let user = User.ID(UUID())
        let limits = RateLimits(perMinute: nil, daily: 5, dailyTokens: nil, concurrentStreams: nil)
        for i in 0..<5 {
            #expect(allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(Double(i) * 600))))
        }
        let refused = try #require(refusedTier(try await limiter.admitMessage(userID: user, limits: limits, now: t0.addingTimeInterval(3600))))
        #expect(refused.tier == .daily)
        #expect(refused.resetAt == t0.nextUTCMidnight)
        #expect(!allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0.nextUTCMidnight.addingTimeInterval(-1))))
        #expect(allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0.nextUTCMidnight.addingTimeInterval(1))))
        let usage = try await limiter.usage(userID: user, limits: limits, now: t0.nextUTCMidnight.addingTimeInterval(2))
        #expect(usage.map(\.used) == [1])
    }

    @Test(arguments: LimiterBackend.available)
    func tokenBudgetRefusesOnceSpent(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let user = User.ID(UUID())
        let limits = RateLimits(perMinute: nil, daily: nil, dailyTokens: 100, concurrentStreams: nil)
        #expect(allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0)))
        try await limiter.chargeTokens(userID: user, tokens: 60, now: t0)
        #expect(allowed(try await limiter.admitMessage(userID: user, limits: limits, now: t0)), "60 of 100 spent")
        try await limiter.chargeTokens(userID: user, tokens: 45, now: t0)
        #expect(refusedTier(try await limiter.admitMessage(userID: user, limits: limits, now: t0))?.tier == .dailyTokens)
        #expect(try await limiter.usage(userID: user, limits: limits, now: t0).first?.used == 105)
    }

    /// The end of a turn gives its lease back and charges its tokens in one call; either part
    /// may be absent (no cap on streams, no usage).
    @Test(arguments: LimiterBackend.available)
    func aTurnSettlesItsLeaseAndItsTokensAtOnce(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let user = User.ID(UUID())
        let limits = RateLimits(perMinute: nil, daily: nil, dailyTokens: 100, concurrentStreams: 1)
        #expect(allowed(try await limiter.acquireStream(userID: user, lease: "a", limit: 1, serverLimit: nil, now: t0, ttl: .seconds(30))))
        #expect(refusedTier(try await limiter.acquireStream(userID: user, lease: "b", limit: 1, serverLimit: nil, now: t0, ttl: .seconds(30)))?.tier
                == .concurrentStreams)
        try await limiter.settleTurn(userID: user, lease: "a", tokens: 70, now: t0)
        #expect(allowed(try await limiter.acquireStream(userID: user, lease: "b", limit: 1, serverLimit: nil, now: t0, ttl: .seconds(30))),
                "the lease was given back")
        try await limiter.settleTurn(userID: user, lease: nil, tokens: 40, now: t0)
        try await limiter.settleTurn(userID: user, lease: "b", tokens: nil, now: t0)
        let usage = try await limiter.usage(userID: user, limits: limits, now: t0)
        #expect(usage.first { $0.tier == .dailyTokens }?.used == 110)
        #expect(usage.first { $0.tier == .concurrentStreams }?.used == 0)
        #expect(refusedTier(try await limiter.admitMessage(userID: user, limits: limits, now: t0))?.tier == .dailyTokens)
    }

    @Test(arguments: LimiterBackend.available)
    func streamLeasesCapAndExpire(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let user = User.ID(UUID())
        func acquire(_ lease: String, at seconds: Double, server: Int? = nil) async throws -> RateDecision {
            try await limiter.acquireStream(userID: user, lease: lease, limit: 2, serverLimit: server, now: t0.addingTimeInterval(seconds), ttl: .seconds(30))
        }
        #expect(allowed(try await acquire("a", at: 0)))
        #expect(allowed(try await acquire("b", at: 1)))
        #expect(refusedTier(try await acquire("c", at: 2))?.tier == .concurrentStreams)
        try await limiter.releaseStream(userID: user, lease: "a")
        #expect(allowed(try await acquire("c", at: 3)))
        // b is renewed, c is not: at +32 c has expired (a crashed holder) and frees its place.
        try await limiter.renewStream(userID: user, lease: "b", now: t0.addingTimeInterval(20), ttl: .seconds(30))
        #expect(refusedTier(try await acquire("d", at: 31))?.tier == .concurrentStreams)
        #expect(allowed(try await acquire("d", at: 34)))
        let usage = try await limiter.usage(userID: user, limits: RateLimits(perMinute: nil, daily: nil, dailyTokens: nil, concurrentStreams: 2),
                                            now: t0.addingTimeInterval(35))
        #expect(usage.first?.used == 2)
    }

    @Test(arguments: LimiterBackend.available)
    func authAttemptsPerClient(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let client = "198.51.100.\(Int.random(in: 1...254))-\(UUID())"
        for _ in 0..<3 { #expect(allowed(try await limiter.admitAuth(client: client, limit: 3, now: t0))) }
        #expect(refusedTier(try await limiter.admitAuth(client: client, limit: 3, now: t0.addingTimeInterval(1)))?.tier == .authIP)
        #expect(allowed(try await limiter.admitAuth(client: "other-\(UUID())", limit: 3, now: t0)))
        #expect(allowed(try await limiter.admitAuth(client: client, limit: 3, now: t0.addingTimeInterval(60.5))))
    }

    /// A window of any length per tier and key; a look (`record: false`) counts nothing and
    /// says where the key stands; tiers do not share counts.
    @Test(arguments: LimiterBackend.available)
    func windowsLookWithoutCountingAndKeepTiersApart(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let key = "ann-\(UUID())@example.org"
        func failures(record: Bool, at seconds: Double) async throws -> RateDecision {
            try await limiter.admitWindow(.loginFailures, key: key, limit: 2, window: .seconds(900), record: record, now: t0.addingTimeInterval(seconds))
        }
        #expect(try await failures(record: false, at: 0) == .allowed([TierUsage(tier: .loginFailures, limit: 2, used: 0, resetAt: t0.addingTimeInterval(900))]))
        #expect(allowed(try await failures(record: true, at: 1)))
        #expect(allowed(try await failures(record: false, at: 2)), "a look does not count")
        #expect(allowed(try await failures(record: true, at: 3)))
        let locked = try await failures(record: false, at: 4)
        #expect(refusedTier(locked)?.tier == .loginFailures)
        #expect(refusedTier(locked)?.resetAt == t0.addingTimeInterval(901), "free when the oldest failure leaves the window")
        #expect(allowed(try await limiter.admitWindow(.writes, key: key, limit: 2, window: .seconds(60), record: true, now: t0)), "another tier")
        #expect(allowed(try await failures(record: false, at: 901.5)))
    }

    /// Fifty requests at once against a limit of twenty: exactly twenty get through.
    @Test(arguments: LimiterBackend.available)
    func parallelRequestsNeverOvershoot(_ backend: LimiterBackend) async throws {
        guard let limiter = backend.make() else { return }
        let user = User.ID(UUID())
        let limits = RateLimits(perMinute: 20, daily: 100, dailyTokens: nil, concurrentStreams: nil)
        let now = t0
        let admitted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<50 {
                group.addTask {
                    if case .allowed = try await limiter.admitMessage(userID: user, limits: limits, now: now) { return true }
                    return false
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(admitted == 20)
        let usage = try await limiter.usage(userID: user, limits: limits, now: now)
        #expect(usage.map(\.used) == [20, 20])
    }
}

/// Redis goes away mid-run: fail-open lets requests through, fail-closed refuses them with
/// `unavailable`; both enforce limits again once it is back.
@Suite(.timeLimit(.minutes(5))) struct RedisOutageTests {
    @Test(.enabled(if: ThrowawayService.canStartRedis, "no redis-server to start a Redis of its own")) func failOpenAndFailClosedThenRecover() async throws {
        guard let redis = try await ThrowawayService.start("test-redis.sh"), let url = redis["PARLEY_TEST_REDIS_URL"] else { return }
        defer { Task { try? await redis.run("teardown") } }
        var configuration = try RedisConfiguration(url: url)
        configuration.connectTimeout = .milliseconds(200)
        configuration.commandTimeout = .milliseconds(200)
        var logger = Logger(label: "test.redis")
        logger.logLevel = .critical
        let client = RedisClient(configuration: configuration, logger: logger)
        let open = FailModeRateLimiter(RedisRateLimiter(redis: client), mode: .open, logger: logger)
        let closed = FailModeRateLimiter(RedisRateLimiter(redis: client), mode: .closed, logger: logger)
        let user = User.ID(UUID())
        let limits = RateLimits(perMinute: 1, daily: nil, dailyTokens: nil, concurrentStreams: nil)
        let now = Date()
        #expect(try await open.admitMessage(userID: user, limits: limits, now: now) != .allowed([]))
        #expect(try await open.admitMessage(userID: user, limits: limits, now: now).isRefused, "the limit holds while Redis is up")

        try await redis.run("stop")
        let started = ContinuousClock.now
        #expect(try await open.admitMessage(userID: user, limits: limits, now: now) == .allowed([]), "fail-open lets it through")
        await #expect(throws: DomainError.unavailable("rate limiting is unavailable; retry shortly")) {
            try await closed.admitMessage(userID: user, limits: limits, now: now)
        }
        #expect(ContinuousClock.now - started < .seconds(2), "an outage costs a request at most a timeout")
        #expect(open.failureCount >= 1)

        try await redis.run("restart")
        // The connection comes back after its backoff (at most 2 s); until then closed refuses.
        var decision = RateDecision.allowed([])
        for _ in 0..<100 {
            if let answer = try? await closed.admitMessage(userID: User.ID(UUID()), limits: limits, now: now) {
                decision = answer
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(decision != .allowed([]), "limits enforced again (a real decision, with the tier's count)")
        await client.close()
    }
}

extension RateDecision {
    var isRefused: Bool {
        if case .refused = self { return true }
        return false
    }
}

/// Both response caches keep an answer for its time to live, and only for its key.
@Suite(.timeLimit(.minutes(5))) struct ResponseCacheTests {
    @Test(arguments: LimiterBackend.available)
    func answersAreKeptForTheirTimeToLive(_ backend: LimiterBackend) async throws {
        let cache: any ResponseCache
        switch backend {
        case .inProcess:
            cache = InProcessResponseCache(capacity: 2)
        case .redis:
            let url = try #require(ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS_URL"], "PARLEY_TEST_REDIS_URL is not set")
            cache = RedisResponseCache(redis: RedisClient(configuration: try RedisConfiguration(url: url)))
        }
        let key = "k-\(UUID())", brief = "b-\(UUID())"
        let answer = CachedAnswer(content: "Grüße ✈️", finishReason: "stop", promptTokens: 3, completionTokens: 4)
        #expect(try await cache.answer(for: key) == nil)
        // Kept: a time to live no stall of a machine loaded by the parallel suites outlasts (one
        // of 1.5 s expired between the store and the read once, in a run whose test took 8 s).
        try await cache.store(answer, for: key, ttl: .seconds(60))
        #expect(try await cache.answer(for: key) == answer)
        #expect(try await cache.answer(for: key + "x") == nil)
        // Expired: a short one, waited out (a stall only makes it more certain).
        try await cache.store(answer, for: brief, ttl: .milliseconds(300))
        try await Task.sleep(for: .milliseconds(600))
        #expect(try await cache.answer(for: brief) == nil, "expired")
        #expect(try await cache.answer(for: key) == answer, "the other key keeps its own time to live")
    }
}

/// Says whether the Redis cases ran: a skip (with the reason) where no test Redis is configured.
@Suite(.timeLimit(.minutes(5))) struct TestRedisTests {
    @Test(.enabled(if: ThrowawayService.redisConfigured, "no test Redis (make test starts one): the redis cases of the contract tests were left out"))
    func redisIsReachable() async throws {
        let url = try #require(ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS_URL"], "PARLEY_TEST_REDIS_URL is not set")
        #expect(await RedisClient(configuration: try RedisConfiguration(url: url)).ping())
    }
}
