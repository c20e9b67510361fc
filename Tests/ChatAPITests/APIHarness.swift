import HTTPClient
import ChatAPI
import ChatCore
import ChatCoreTesting
import Foundation
import HTTPServer
import HTTPServerTesting
import LLMProviders
import Logging
import MockLLM
import Coordination
import Security
import Storage
import StorageTesting

/// A live parley API on a real database, real crypto, a clock the test moves, and the
/// OpenAI-compatible mock upstream on a port of its own, reached over HTTP through libcurl
/// as model `mock-model` (the built-in `mock` model is there too).
struct APIHarness: APICalls {
    let port: Int
    let deps: AuthDependencies
    let clock: ManualClock
    let database: any SQLDatabase
    let turns: TurnDependencies
    /// The mock upstream's server, to watch its connections.
    let upstream: Server

    /// One client for the tests (one libcurl multi handle); a process that cannot make one
    /// fails each test that needs it.
    static let sharedClient = Result { try CurlHTTPClient() }
    static var client: CurlHTTPClient { get throws { try sharedClient.get() } }

    /// Runs `body` against a server on `backend`; nil-returning backends (Postgres outside CI) skip.
    static func with(_ backend: TestBackend, settings configure: (inout ChatSettings) -> Void = { _ in },
                     policy: RatePolicy = .unlimited, limiter: any RateLimiter = InProcessRateLimiter(), cacheTTL: Duration? = nil,
                     ownership: OwnershipLimits = OwnershipLimits(), writesPerMinute: Int? = nil, loginMaxFailures: Int? = nil,
                     signals: (any TurnSignals)? = nil, guestsPerClientPerDay: Int? = nil, prices: [String: ModelPrice] = [:],
                     auth configureAuth: (inout AuthDependencies) -> Void = { _ in },
                     upstreamPatience: Duration = .seconds(1),
                     _ body: (APIHarness) async throws -> Void) async throws {
        guard let database = try await backend.makeDatabase() else { return }
        let clock = ManualClock(Date())
        var cheap = Argon2PasswordHasher.Parameters()
        cheap.memoryKiB = 1024  // the real parameters are tested in SecurityTests; keep these tests quick
        // Callers kept for a minute, as a server keeps them (AUTH_CACHE_SECONDS): every test of
        // a change to a user (disabled, role, deleted) then proves the change empties the cache.
        let userCache = UserCache(timeToLive: .seconds(60))
        var deps = AuthDependencies(
            users: UserChangeNotifier(SQLUserRepository(database: database)) { userCache.invalidate($0) },
            refreshTokens: SQLRefreshTokenRepository(database: database),
            apiKeys: SQLAPIKeyRepository(database: database), hasher: Argon2PasswordHasher(parameters: cheap, concurrency: 2, maxWaiting: 256),
            accessTokens: JWTIssuer(secret: Array("test-secret-test-secret-test-secret!".utf8)),
            secrets: SecureSecretGenerator(), clock: clock,
            decoyPasswordHash: "$argon2id$v=19$m=1024,t=2,p=1$MGNjYzcyYzY5ODg3ZGNlOA$HUzEG894RgcmKpPTkdY1kL4gUMqaYeVQJQBZ+lVRZjQ"
        )
        deps.ownership = ownership
        deps.userCache = userCache
        deps.loginThrottle = loginMaxFailures.map { LoginThrottle(limiter: limiter, maxFailures: $0, window: .seconds(900)) }
        configureAuth(&deps)
        let limits = RouteLimits(limiter: limiter, policy: policy, writesPerMinute: writesPerMinute, clients: ClientAddress(),
                                 guestsPerClientPerDay: guestsPerClientPerDay, clock: clock)
        var logger = Logger(label: "test.api")
        logger.logLevel = .critical
        var routes = RouterBuilder()
        var upstreamRoutes = RouterBuilder()
        MockUpstream.register(on: &upstreamRoutes)
        var settings = ChatSettings()
        configure(&settings)
        do {
            try await TestServer.with(responder: upstreamRoutes.build(logger: logger)) { upstream in
                var upstreamSettings = OpenAICompatibleConfiguration(baseURL: "http://127.0.0.1:\(upstream.port)/v1", apiKey: "sk-test-key",
                                                                     models: [MockUpstream.model])
                // Short, so the timeout tests are quick; a test of something else under heavy
                // load can ask for more.
                upstreamSettings.firstTokenTimeout = upstreamPatience
                upstreamSettings.idleTimeout = upstreamPatience
                upstreamSettings.backoffBase = .milliseconds(20)
                upstreamSettings.maxRetryAfter = .seconds(2)
                let provider = ProviderRouter([MockChatProvider(tokenDelay: .milliseconds(1)),
                                               OpenAICompatibleProvider(configuration: upstreamSettings, client: try client)])
                var chat = ChatDependencies(sessions: SQLChatSessionRepository(database: database), messages: SQLMessageRepository(database: database),
                                            projects: SQLProjectRepository(database: database), clock: clock,
                                            models: ["mock", "other-model", MockUpstream.model],
                                            turns: TurnRegistry(keepAliveInterval: settings.keepAliveInterval))
                chat.ownership = ownership
                let turns = TurnDependencies(chat: chat, store: SQLTurnRepository(database: database), usage: SQLUsageRepository(database: database),
                                             provider: provider, settings: settings, limiter: limiter, policy: policy, signals: signals,
                                             cache: cacheTTL.map { (InProcessResponseCache(), $0, { SecureSecretGenerator().digest($0) }) }, logger: logger)
                APIRoutes.register(on: &routes, APIServices(auth: deps, chat: chat, turns: turns, provider: provider, limits: limits,
                                                            cookie: RefreshCookie(alwaysSecure: false, clients: ClientAddress(),
                                                                                  lifetime: deps.refreshTokenLifetime),
                                                            search: SQLMessageRepository(database: database),
                                                            reporting: UsageReporting(usage: turns.usage, prices: prices, clock: clock)), logger: logger)
                try await TestServer.with(responder: routes.build(logger: logger)) { server in
                    try await body(APIHarness(port: server.port, deps: deps, clock: clock, database: database, turns: turns, upstream: upstream.server))
                    // Turns still running would write to a closed database.
                    await turns.registry.shutdown(gracePeriod: .seconds(2))
                }
            }
            await database.close()
        } catch {
            await database.close()
            throw error
        }
    }

}

/// Plain HTTP calls to a parley API on `port`.
protocol APICalls: Sendable {
    var port: Int { get }
}

/// A client of an API that a test set up by itself.
struct APIClient: APICalls {
    let port: Int
}

struct Reply: Sendable {
    let status: Int
    let headers: [String: String]
    let json: [String: any Sendable]
    let text: String

    subscript(key: String) -> String? { json[key] as? String }
}

extension APICalls {
    /// One request on a fresh connection; the body, if any, is sent as JSON.
    func call(_ method: String, _ path: String, token: String? = nil, json: String? = nil,
              contentType: String = "application/json", headers: [(String, String)] = []) async throws -> Reply {
        let port = self.port
        let raw = try await blocking {
            let connection = try RawConnection(port: port, timeout: 10)
            var head = "\(method) \(path) HTTP/1.1\r\nHost: test\r\n"
            if let token { head += "Authorization: Bearer \(token)\r\n" }
            for (name, value) in headers { head += "\(name): \(value)\r\n" }
            let body = Array((json ?? "").utf8)
            if json != nil { head += "Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n" }
            try connection.send(Array((head + "\r\n").utf8) + body)
            return try connection.readResponse()
        }
        let object = (try? JSONSerialization.jsonObject(with: Data(raw.body))) as? [String: Any] ?? [:]
        var headers: [String: String] = [:]
        for (name, value) in raw.headers { headers[name.lowercased()] = value }
        return Reply(status: raw.status, headers: headers, json: object.mapValues { SendableJSON.wrap($0) }, text: raw.text)
    }

    func register(_ email: String, _ password: String = "correct horse") async throws -> Reply {
        try await call("POST", "/v1/auth/register", json: #"{"email":"\#(email)","password":"\#(password)"}"#)
    }
}

/// JSON values made `Sendable` for replies: strings, numbers, booleans, and nested values as text.
enum SendableJSON {
    static func wrap(_ value: Any) -> any Sendable {
        switch value {
        case let s as String: return s
        case let n as NSNumber: return n.intValue
        case let a as [Any]: return a.map { wrap($0) }
        case let d as [String: Any]: return d.mapValues { wrap($0) }
        case is NSNull: return JSONNull()
        default: return "\(value)"
        }
    }
}

/// JSON `null`, kept as a value so a present-but-null key is told apart from a missing one.
struct JSONNull: Sendable, Equatable {}

extension Reply {
    var user: [String: any Sendable] { json["user"] as? [String: any Sendable] ?? [:] }
    var items: [[String: any Sendable]] { json["items"] as? [[String: any Sendable]] ?? [] }
}
