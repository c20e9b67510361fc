import ChatAPI
import ChatCore
import Coordination
import RedisClient

/// Limits, the response cache, and where they are kept: `REDIS_URL` (shared by every
/// instance) or this process.
struct RateLimitConfiguration: Sendable {
    var redis: RedisConfiguration?
    var failMode: FailModeRateLimiter.Mode
    var policy: RatePolicy
    var trustedProxies: [ClientAddress.Network]
    /// How long identical requests get the same answer; nil: no cache.
    var responseCacheTTL: Duration?
    /// Creations per user per minute (`WRITE_RATE_LIMIT_PER_MINUTE`); nil: no limit.
    var writesPerMinute: Int?
    /// Guests one client address may start in a day (`GUEST_DAILY_PER_CLIENT`); nil for no cap.
    var guestsPerClientPerDay: Int?
    /// Failed sign-ins per account within `loginFailureWindow` before it is locked; nil: none.
    var loginMaxFailures: Int?
    var loginFailureWindow: Duration
    /// What one owner may keep (`USER_MAX_*`).
    var ownership = OwnershipLimits()

    init(environment env: Environment) throws(ConfigurationError) {
        let redisTimeout = try env.seconds("REDIS_TIMEOUT_SECONDS", default: 0.5, range: 0.01...60)
        if let url = env["REDIS_URL"] {
            var configuration: RedisConfiguration
            do {
                configuration = try RedisConfiguration(url: url)
            } catch {
                throw ConfigurationError(variable: "REDIS_URL", message: "\(error.message) (redis://[:password@]host:port/db)")
            }
            configuration.connectTimeout = redisTimeout
            configuration.commandTimeout = redisTimeout
            redis = configuration
        }
        failMode = FailModeRateLimiter.Mode(rawValue: try env.choice("RATE_LIMIT_FAIL_MODE", default: "open", from: ["open", "closed"])) ?? .open
        // 0 turns a tier off.
        func limit(_ name: String, _ fallback: Int) throws(ConfigurationError) -> Int? {
            let value = try env.integer(name, default: fallback, range: 0...100_000_000)
            return value == 0 ? nil : value
        }
        let user = RateLimits(
            perMinute: try limit("CHAT_RATE_LIMIT_PER_MINUTE", 20), daily: try limit("CHAT_DAILY_MESSAGE_QUOTA", 100),
            dailyTokens: try limit("CHAT_DAILY_TOKEN_QUOTA", 0), concurrentStreams: try limit("CHAT_MAX_CONCURRENT_STREAMS", 3)
        )
        let guest = RateLimits(
            perMinute: try limit("GUEST_RATE_LIMIT_PER_MINUTE", 5), daily: try limit("GUEST_DAILY_MESSAGE_QUOTA", 20),
            dailyTokens: user.dailyTokens, concurrentStreams: try limit("GUEST_MAX_CONCURRENT_STREAMS", 1)
        )
        policy = RatePolicy(user: user, guest: guest, authPerMinute: try limit("AUTH_RATE_LIMIT_PER_MINUTE", 20),
                            serverStreams: try limit("SERVER_MAX_CONCURRENT_STREAMS", 0))
        policy.streamLease = try env.seconds("STREAM_LEASE_SECONDS", default: 30, range: 1...3600)
        writesPerMinute = try limit("WRITE_RATE_LIMIT_PER_MINUTE", 30)
        guestsPerClientPerDay = try limit("GUEST_DAILY_PER_CLIENT", 100)
        loginMaxFailures = try limit("LOGIN_MAX_FAILURES", 5)
        loginFailureWindow = try env.seconds("LOGIN_FAILURE_WINDOW_SECONDS", default: 900, range: 1...86_400)
        ownership.sessionsPerUser = try env.integer("USER_MAX_SESSIONS", default: 10_000, range: 1...10_000_000)
        ownership.projectsPerUser = try env.integer("USER_MAX_PROJECTS", default: 100, range: 1...1_000_000)
        ownership.apiKeysPerUser = try env.integer("USER_MAX_API_KEYS", default: 20, range: 1...10_000)
        let ttl = try env.integer("RESPONSE_CACHE_TTL", default: 0, range: 0...(30 * 86_400))
        responseCacheTTL = ttl == 0 ? nil : .seconds(ttl)
        trustedProxies = []
        for entry in (env["TRUSTED_PROXIES"] ?? "").split(separator: ",") {
            let text = entry.filter { $0 != " " }
            guard let network = ClientAddress.Network(text) else {
                throw ConfigurationError(variable: "TRUSTED_PROXIES", message: "has \(text), which is not an IP address or network (10.0.0.0/8, ::1)")
            }
            trustedProxies.append(network)
        }
    }
}
