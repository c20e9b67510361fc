#if canImport(Glibc)
import Glibc
#endif
import ChatCore
import FoundationEssentials
import LLMProviders
import Logging
import Metrics
import Coordination
import RedisClient
import ChatAPI
import Security
import Storage

/// The adapters and use-case dependencies of one running parley, built from configuration.
struct AppServices: Sendable {
    let database: any SQLDatabase
    let auth: AuthDependencies
    let provider: any ChatProvider
    let chat: ChatDependencies
    let turns: TurnDependencies
    let authLimit: AuthRateLimit?
    let redis: RedisClient?
    let metrics: ChatMetrics

    /// A hash of a random password that was thrown away: checked when a login names an
    /// unknown e-mail, so that costs the same as a wrong password (same argon2id parameters).
    static let decoyPasswordHash = "$argon2id$v=19$m=19456,t=2,p=1$MGNjYzcyYzY5ODg3ZGNlOA$HUzEG894RgcmKpPTkdY1kL4gUMqaYeVQJQBZ+lVRZjQ"

    static func build(_ config: AppConfiguration, logger: Logger) async throws -> AppServices {
        let database = try await openDatabase(config.storage, logger: logger)
        if config.storage.autoMigrate {
            let applied = try await Migrator(database: database, directory: config.storage.migrationsDirectory).migrate()
            if !applied.isEmpty { logger.info("migrations applied", metadata: ["parley.migrations": "\(applied.joined(separator: ","))"]) }
        }
        // A crash leaves answers `streaming` that nothing will finish: mark them interrupted,
        // keeping what was generated (DESIGN §7).
        let interrupted = try await SQLMessageRepository(database: database).interruptStreaming(at: Date())
        if interrupted > 0 { logger.warning("answers left streaming by a crash marked interrupted", metadata: ["parley.count": "\(interrupted)"]) }
        let secret = try config.auth.jwtSecret ?? developmentSecret(at: config.auth.devSecretPath)
        let auth = AuthDependencies(
            users: SQLUserRepository(database: database), refreshTokens: SQLRefreshTokenRepository(database: database),
            apiKeys: SQLAPIKeyRepository(database: database),
            hasher: Argon2PasswordHasher(concurrency: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))),
            accessTokens: JWTIssuer(secret: secret, previousSecrets: config.auth.previousSecrets),
            secrets: SecureSecretGenerator(), guestLifetime: config.auth.guestLifetime,
            decoyPasswordHash: decoyPasswordHash
        )
        let provider = makeProvider(config.providers)
        let chat = ChatDependencies(
            sessions: SQLChatSessionRepository(database: database), messages: SQLMessageRepository(database: database),
            projects: SQLProjectRepository(database: database), models: provider.models.map(\.id),
            turns: TurnRegistry(keepAliveInterval: config.chat.keepAliveInterval)
        )
        var redis: RedisClient?
        let store: any RateLimiter
        if let redisConfiguration = config.rateLimits.redis {
            let client = RedisClient(configuration: redisConfiguration)
            if !(await client.ping()) { logger.warning("redis does not answer yet", metadata: ["parley.fail_mode": "\(config.rateLimits.failMode.rawValue)"]) }
            redis = client
            store = FailModeRateLimiter(RedisRateLimiter(redis: client), mode: config.rateLimits.failMode, logger: Logger(label: "parley.ratelimit"))
        } else {
            store = InProcessRateLimiter()
        }
        let metrics = ChatMetrics(registry: MetricsRegistry())
        let limiter = MeteredRateLimiter(inner: store, decisions: metrics.rateDecisions)
        let turns = TurnDependencies(
            chat: chat, store: SQLTurnRepository(database: database), usage: SQLUsageRepository(database: database), provider: provider,
            settings: config.chat, limiter: limiter, policy: config.rateLimits.policy, signals: redis.map(RedisTurnSignals.init),
            cache: config.rateLimits.responseCacheTTL.map { ttl in
                let secrets = auth.secrets
                return (redis.map { RedisResponseCache(redis: $0) as any ResponseCache } ?? InProcessResponseCache(), ttl, { secrets.digest($0) })
            },
            observer: metrics, logger: Logger(label: "parley.turns")
        )
        if let redisConfiguration = config.rateLimits.redis {
            RedisTurnSignals.listen(configuration: redisConfiguration, registry: chat.turns, logger: Logger(label: "parley.redis")).start()
        }
        let authLimit = config.rateLimits.policy.authPerMinute.map {
            AuthRateLimit(limiter: limiter, perMinute: $0, clients: ClientAddress(trusted: config.rateLimits.trustedProxies))
        }
        return AppServices(database: database, auth: auth, provider: provider, chat: chat, turns: turns, authLimit: authLimit, redis: redis,
                           metrics: metrics)
    }

    static func makeProvider(_ config: ProviderConfiguration) -> any ChatProvider {
        var providers: [any ChatProvider] = []
        if !config.upstreams.isEmpty {
            let client = CurlHTTPClient()
            for upstream in config.upstreams {
                var settings = OpenAICompatibleConfiguration(baseURL: upstream.baseURL, apiKey: upstream.apiKey, models: [upstream.model])
                settings.connectTimeout = config.connectTimeout
                settings.firstTokenTimeout = config.firstTokenTimeout
                settings.idleTimeout = config.idleTimeout
                settings.maxRetries = config.maxRetries
                providers.append(OpenAICompatibleProvider(configuration: settings, client: client))
            }
        }
        if config.useMock { providers.append(MockChatProvider(tokenDelay: config.mockTokenDelay)) }
        return ProviderRouter(providers)
    }

    static func openDatabase(_ storage: StorageConfiguration, logger: Logger) async throws -> any SQLDatabase {
        switch storage.location {
        case .sqlite(let path):
            return try SQLiteDatabase(path: path)
        case .postgres(let url):
            return try await PostgresDatabase(url: url, poolSize: storage.poolSize, acquireTimeout: storage.acquireTimeout, logger: logger)
        }
    }

    /// A random secret generated on first start and kept (mode 0600) for later starts, so
    /// development sessions survive a restart. Production refuses to run without `JWT_SECRET`.
    static func developmentSecret(at path: String) throws -> [UInt8] {
        if let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            let trimmed = existing.filter { !$0.isWhitespace }
            if trimmed.utf8.count >= 32 { return Array(trimmed.utf8) }
        }
        let secret = Crypto.hex(Crypto.randomBytes(32))
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) cannot be written") }
        defer { close(fd) }
        let line = secret + "\n"
        _ = line.withCString { write(fd, $0, strlen($0)) }
        return Array(secret.utf8)
    }

    /// What `GET /health/ready` asks: the database, Redis if configured, a provider.
    var readiness: [ReadinessCheck] {
        var checks = [ReadinessCheck("database") { await database.ping() }]
        if let redis { checks.append(ReadinessCheck("redis") { await redis.ping() }) }
        let models = provider.models
        checks.append(ReadinessCheck("provider") { !models.isEmpty })
        return checks
    }

    func closeConnections() async {
        await database.close()
        await redis?.close()
    }

    /// Removes expired guests (with their data) and expired idempotency keys, now and every
    /// ten minutes, until cancelled.
    func startHousekeeping(logger: Logger) -> Task<Void, Never> {
        let users = auth.users, clock = auth.clock, store = turns.store
        let keyLifetime = turns.settings.idempotencyWindow.seconds
        return Task {
            while !Task.isCancelled {
                do {
                    let removed = try await users.deleteExpiredGuests(now: clock.now())
                    if removed > 0 { logger.info("expired guests removed", metadata: ["parley.count": "\(removed)"]) }
                    _ = try await store.purgeIdempotencyKeys(before: clock.now().addingTimeInterval(-keyLifetime))
                } catch {
                    logger.warning("housekeeping failed", metadata: ["parley.error": "\(error)"])
                }
                try? await Task.sleep(for: .seconds(600))
            }
        }
    }
}
