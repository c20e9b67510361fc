#if canImport(Glibc)
import Glibc
#endif
import ChatCore
import HTTPClient
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
    /// One readiness check per configured upstream, named by its model.
    let upstreamChecks: [ReadinessCheck]
    let chat: ChatDependencies
    let turns: TurnDependencies
    /// The limits routes declare (sign-in attempts, creations, messages).
    let limits: RouteLimits
    /// The usage events with the operator's prices, for the usage reports.
    let reporting: UsageReporting
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
        let secret = try config.auth.jwtSecret ?? developmentSecret(at: config.auth.devSecretPath)
        let redis = config.rateLimits.redis.map { RedisClient(configuration: $0) }
        let userCache = config.auth.userCacheTTL.map { UserCache(timeToLive: $0) }
        let userChanges = redis.map { RedisUserChanges(redis: $0, logger: Logger(label: "parley.users")) }
        var users: any UserRepository = SQLUserRepository(database: database)
        if userCache != nil || userChanges != nil {
            // Changes are published with Redis even where this process keeps no cache (the
            // `parley user` commands, or AUTH_CACHE_SECONDS=0): the serving instances may.
            users = UserChangeNotifier(users) { id in
                userCache?.invalidate(id)
                await userChanges?.publish(id)
            }
        }
        var auth = AuthDependencies(
            users: users, refreshTokens: SQLRefreshTokenRepository(database: database),
            apiKeys: SQLAPIKeyRepository(database: database),
            hasher: Argon2PasswordHasher(concurrency: max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))),
            accessTokens: JWTIssuer(secret: secret, previousSecrets: config.auth.previousSecrets),
            secrets: SecureSecretGenerator(), guestLifetime: config.auth.guestLifetime,
            decoyPasswordHash: decoyPasswordHash
        )
        let (provider, upstreamChecks) = try makeProvider(config.providers)
        auth.ownership = config.rateLimits.ownership
        auth.registrationOpen = config.auth.registrationOpen
        auth.guestAccess = config.auth.guestAccess
        auth.userCache = userCache
        var chat = ChatDependencies(
            sessions: SQLChatSessionRepository(database: database), messages: SQLMessageRepository(database: database),
            projects: SQLProjectRepository(database: database), models: provider.models.map(\.id),
            turns: TurnRegistry(keepAliveInterval: config.chat.keepAliveInterval, pending: PendingSaves(spoolPath: config.storage.spoolPath))
        )
        chat.ownership = config.rateLimits.ownership
        var signals: RedisTurnSignals?
        let store: any RateLimiter
        if let redisConfiguration = config.rateLimits.redis, let client = redis {
            if !(await client.ping()) { logger.warning("redis does not answer yet", metadata: ["parley.fail_mode": "\(config.rateLimits.failMode.rawValue)"]) }
            signals = RedisTurnSignals(redis: client, configuration: redisConfiguration, instanceID: config.instanceID, logger: Logger(label: "parley.redis"))
            store = FailModeRateLimiter(RedisRateLimiter(redis: client), mode: config.rateLimits.failMode, logger: Logger(label: "parley.ratelimit"))
        } else {
            store = InProcessRateLimiter()
        }
        let metrics = ChatMetrics(registry: MetricsRegistry())
        // Which instance a scrape came from, the Prometheus way (an info gauge), leaving the
        // `instance` label to the scraper.
        let instanceID = config.instanceID
        metrics.http.registry.gauge("parley_instance_info", "This instance; always 1.", labels: ["instance_id"]) { [([instanceID], 1)] }
        let limiter = MeteredRateLimiter(inner: store, decisions: metrics.rateDecisions)
        auth.loginThrottle = config.rateLimits.loginMaxFailures.map {
            LoginThrottle(limiter: limiter, maxFailures: $0, window: config.rateLimits.loginFailureWindow)
        }
        var turns = TurnDependencies(
            chat: chat, store: SQLTurnRepository(database: database), usage: SQLUsageRepository(database: database), provider: provider,
            settings: config.chat, limiter: limiter, policy: config.rateLimits.policy, signals: signals,
            cache: config.rateLimits.responseCacheTTL.map { ttl in
                let secrets = auth.secrets
                return (redis.map { RedisResponseCache(redis: $0) as any ResponseCache } ?? InProcessResponseCache(), ttl, { secrets.digest($0) })
            },
            observer: metrics, logger: Logger(label: "parley.turns")
        )
        turns.instanceID = config.instanceID
        // Answers the last run finished but could not save were spooled: save them first. Then
        // answers a crash left `streaming` that nothing will finish: end them interrupted with
        // what was checkpointed, and charge them (estimated).
        let replayed = try await PendingSaves.replay(from: config.storage.spoolPath, messages: chat.messages, usage: turns.usage)
        if replayed > 0 { logger.notice("spooled answers saved", metadata: ["parley.count": "\(replayed)"]) }
        let interrupted = try await RecoverAnswers(turns).orphaned()
        if interrupted > 0 { logger.warning("answers left streaming by a crash ended as interrupted", metadata: ["parley.count": "\(interrupted)"]) }
        if let redisConfiguration = config.rateLimits.redis, let signals {
            signals.listen(configuration: redisConfiguration, registry: chat.turns).start()
        }
        if let redisConfiguration = config.rateLimits.redis, let userChanges, let userCache {
            userChanges.listen(configuration: redisConfiguration, cache: userCache).start()
        }
        let limits = RouteLimits(limiter: limiter, policy: config.rateLimits.policy, writesPerMinute: config.rateLimits.writesPerMinute,
                                 clients: ClientAddress(trusted: config.rateLimits.trustedProxies),
                                 guestsPerClientPerDay: config.rateLimits.guestsPerClientPerDay)
        return AppServices(database: database, auth: auth, provider: provider, upstreamChecks: upstreamChecks, chat: chat, turns: turns, limits: limits,
                           reporting: UsageReporting(usage: turns.usage, prices: config.providers.prices), redis: redis, metrics: metrics)
    }

    static func makeProvider(_ config: ProviderConfiguration) throws -> (any ChatProvider, [ReadinessCheck]) {
        var providers: [any ChatProvider] = []
        var checks: [ReadinessCheck] = []
        if !config.upstreams.isEmpty {
            let client = try CurlHTTPClient()
            for upstream in config.upstreams {
                var settings = OpenAICompatibleConfiguration(baseURL: upstream.baseURL, apiKey: upstream.apiKey, models: [upstream.model])
                settings.connectTimeout = config.connectTimeout
                settings.firstTokenTimeout = config.firstTokenTimeout
                settings.maxAnswerDuration = config.maxAnswerDuration
                settings.idleTimeout = config.idleTimeout
                settings.maxRetries = config.maxRetries
                let provider = OpenAICompatibleProvider(configuration: settings, client: client)
                providers.append(provider)
                checks.append(ReadinessCheck("model:\(upstream.model)") { await provider.isReachable() })
            }
        }
        if config.useMock { providers.append(MockChatProvider(tokenDelay: config.mockTokenDelay)) }
        return (ProviderRouter(providers), checks)
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
    ///
    /// Whoever can read the file can forge any user's token, so a file that others may read or
    /// write, that another user owns, or that is a link is refused rather than used.
    static func developmentSecret(at path: String) throws(ConfigurationError) -> [UInt8] {
        let existing = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC)
        if existing >= 0 {
            defer { close(existing) }
            var info = stat()
            guard fstat(existing, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
                throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) is not a regular file")
            }
            guard info.st_uid == geteuid() else {
                throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) belongs to another user; remove it or set JWT_SECRET")
            }
            guard info.st_mode & 0o077 == 0 else {
                let mode = String(info.st_mode & 0o777, radix: 8)
                throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) has mode \(mode), readable or writable by others; run chmod 600 on it, or remove it to generate a new secret")
            }
            var bytes = [UInt8](repeating: 0, count: 512)
            let count = bytes.withUnsafeMutableBytes { read(existing, $0.baseAddress, $0.count) }
            let secret = bytes.prefix(max(0, count)).filter { !(9...13).contains($0) && $0 != 32 }
            guard secret.count >= 32 else {
                throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) holds fewer than 32 bytes; remove it to generate a new secret")
            }
            return Array(secret)
        }
        guard errno == ENOENT else {
            throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) cannot be read: \(String(cString: strerror(errno)))")
        }
        let secret = Crypto.hex(Crypto.randomBytes(32))
        // O_EXCL: never write through a file or link someone else put there first.
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) cannot be written") }
        defer { close(fd) }
        fchmod(fd, 0o600)  // whatever the umask
        let line = Array((secret + "\n").utf8)
        guard line.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) == line.count else {
            throw ConfigurationError(variable: "JWT_SECRET", message: "is unset and \(path) cannot be written")
        }
        return Array(secret.utf8)
    }

    /// What `GET /health/ready` asks: the database, Redis if configured, and each configured
    /// upstream (`model:<id>`, answering `GET /models`); the built-in mock is always there.
    var readiness: [ReadinessCheck] {
        var checks = [ReadinessCheck("database") { await database.ping() }]
        if let redis { checks.append(ReadinessCheck("redis") { await redis.ping() }) }
        let models = provider.models
        checks.append(ReadinessCheck("provider") { !models.isEmpty })
        return checks + upstreamChecks
    }

    func closeConnections() async {
        await database.close()
        await redis?.close()
    }

    /// With other instances (Redis configured), ends every third of a stream lease the answers
    /// whose owner stopped renewing its lease (an instance that died): saved `interrupted`,
    /// charged, and their readers on any instance told. Alone, start-up did that already.
    func startSweep(logger: Logger) -> Task<Void, Never>? {
        guard turns.signals != nil else { return nil }
        let turns = self.turns, interval = max(.seconds(1), turns.policy.streamLease / 3)
        return Task {
            while (try? await Task.sleep(for: interval)) != nil {
                do {
                    let ended = try await RecoverAnswers(turns).orphaned()
                    if ended > 0 { logger.warning("answers of an instance that stopped renewing its lease ended as interrupted", metadata: ["parley.count": "\(ended)"]) }
                } catch {
                    logger.debug("sweep of lapsed answers failed", metadata: ["parley.error": "\(error)"])
                }
            }
        }
    }

    /// On SQLite, moves the messages waiting for the full-text index into it every second (a
    /// search does so first too): one index write for all of them instead of one a message.
    func startSearchIndexing(logger: Logger) -> Task<Void, Never>? {
        guard database.dialect == .sqlite else { return nil }
        let messages = SQLMessageRepository(database: database)
        return Task {
            while (try? await Task.sleep(for: .seconds(1))) != nil {
                do {
                    _ = try await messages.indexSearchBacklog()
                } catch {
                    logger.warning("indexing messages for search failed; the next pass tries again", metadata: ["parley.error": "\(error)"])
                }
            }
        }
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
