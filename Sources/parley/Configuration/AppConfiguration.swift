#if canImport(Glibc)
import Glibc
#endif
import ChatAPI
import ChatCore
import HTTPServer
import RedisClient
import Logging

/// Everything `parley serve` reads from its environment, validated once at start.
struct AppConfiguration: Sendable {
    enum LogFormat: String, Sendable { case json, text }

    var server = ServerConfiguration()
    var maxBodyBytes = 1 << 20
    var shutdownGrace: Duration = .seconds(10)
    var logLevel: Logger.Level = .info
    var logFormat: LogFormat = .json
    var storage: StorageConfiguration
    var auth: AuthConfiguration
    var providers: ProviderConfiguration
    var chat = ChatSettings()
    var rateLimits: RateLimitConfiguration
    /// Origins allowed cross-origin access (`CORS_ORIGINS`); nil: none.
    var corsOrigins: CORS.Origins?
    /// Where `/metrics` is served: its own listener (`METRICS_HOST`:`METRICS_PORT`), or the main
    /// port behind `METRICS_TOKEN`; with neither, nowhere.
    var metricsListener: (host: String, port: Int)?
    /// `INSTANCE_ID`: this instance's name on its log lines, readiness and the answers it
    /// generates; by default the host name and a random suffix, new at each start.
    var instanceID: String
    var metricsToken: String?
    /// The web page's refresh cookie is `Secure` always, not only on requests that came over
    /// HTTPS through a trusted proxy (`COOKIE_SECURE`).
    var cookieSecure: Bool
    /// Values that must never reach a log line: provider keys, JWT secrets, the Redis password.
    var secrets: [String] {
        var all = providers.upstreams.compactMap(\.apiKey) + [metricsToken].compactMap { $0 }
        all += ([auth.jwtSecret].compactMap { $0 } + auth.previousSecrets).map { String(decoding: $0, as: UTF8.self) }
        if let password = rateLimits.redis?.password { all.append(password) }
        return all
    }

    /// Defaults that were used because a variable was not set, for the start-up log.
    var defaultsUsed: [String] = []

    /// Reads and checks every variable; the first bad one stops start-up with its name.
    init(environment env: Environment) throws(ConfigurationError) {
        server.host = env.string("HOST", default: "127.0.0.1")
        instanceID = env.string("INSTANCE_ID", default: Self.defaultInstanceID())
        cookieSecure = try env.choice("COOKIE_SECURE", default: "false", from: ["true", "false"]) == "true"
        guard instanceID.utf8.count <= 64, instanceID.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw ConfigurationError(variable: "INSTANCE_ID", message: "must be 1 to 64 visible ASCII characters")
        }
        server.port = try env.integer("PORT", default: 8080, range: 0...65535)
        server.maxConnections = try env.integer("HTTP_MAX_CONNECTIONS", default: 10_000, range: 1...1_000_000)
        server.maxConnectionsPerAddress = try env.integer("HTTP_MAX_CONNECTIONS_PER_ADDRESS", default: 64, range: 1...1_000_000)
        maxBodyBytes = try env.integer("HTTP_MAX_BODY_BYTES", default: 1 << 20, range: 1...(1 << 30))
        server.maxBodyBytesInFlight = try env.integer("HTTP_MAX_BODY_BYTES_IN_FLIGHT", default: 64 << 20, range: 1...(1 << 40))
        server.headerTimeout = try env.seconds("HTTP_HEADER_TIMEOUT_SECONDS", default: 10, range: 0.05...3600)
        server.bodyTimeout = try env.seconds("HTTP_BODY_TIMEOUT_SECONDS", default: 30, range: 0.05...3600)
        server.idleTimeout = try env.seconds("HTTP_IDLE_TIMEOUT_SECONDS", default: 75, range: 0.05...86400)
        server.writeTimeout = try env.seconds("HTTP_WRITE_TIMEOUT_SECONDS", default: 30, range: 0.05...3600)
        server.ioQueueCount = try env.integer("HTTP_IO_QUEUES", default: max(2, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))), range: 1...256)
        shutdownGrace = try env.seconds("SHUTDOWN_GRACE_SECONDS", default: 10, range: 0...3600)
        logFormat = LogFormat(rawValue: try env.choice("LOG_FORMAT", default: "json", from: ["json", "text"])) ?? .json
        let level = try env.choice("LOG_LEVEL", default: "info", from: Logger.Level.allCases.map(\.rawValue))
        logLevel = Logger.Level(rawValue: level) ?? .info
        chat.maxMessageLength = try env.integer("CHAT_MAX_MESSAGE_LENGTH", default: 4000, range: 1...1_000_000)
        chat.maxContextMessages = try env.integer("CHAT_MAX_CONTEXT_MESSAGES", default: 20, range: 1...10_000)
        chat.maxContextTokens = try env.integer("CHAT_MAX_CONTEXT_TOKENS", default: 16_000, range: 100...10_000_000)
        chat.maxOutputTokens = try env.integer("CHAT_MAX_OUTPUT_TOKENS", default: 4096, range: 1...1_000_000)
        if let text = env["CHAT_DEFAULT_TEMPERATURE"], !text.isEmpty {
            guard let value = Double(text), (0...2).contains(value) else {
                throw ConfigurationError(variable: "CHAT_DEFAULT_TEMPERATURE", message: "must be a number from 0 to 2, or empty")
            }
            chat.defaultTemperature = value
        }
        let systemPrompt = env.string("CHAT_SYSTEM_PROMPT", default: "")
        chat.systemPrompt = systemPrompt.isEmpty ? nil : systemPrompt
        chat.keepAliveInterval = try env.seconds("SSE_KEEPALIVE_SECONDS", default: 15, range: 0.05...3600)
        rateLimits = try RateLimitConfiguration(environment: env)
        // A load balancer in front brings every client's connections from its own address.
        let proxies = ClientAddress(trusted: rateLimits.trustedProxies)
        server.isExemptFromAddressCap = { proxies.isTrusted($0) }
        storage = try StorageConfiguration(environment: env)
        auth = try AuthConfiguration(environment: env, storage: storage)
        providers = try ProviderConfiguration(environment: env, production: auth.production)
        let origins = (env["CORS_ORIGINS"] ?? "").split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty }
        if origins == ["*"] {
            if auth.production { throw ConfigurationError(variable: "CORS_ORIGINS", message: "may not be * when APP_ENV=production; list the origins") }
            corsOrigins = .any
        } else if !origins.isEmpty {
            for origin in origins where !(origin.hasPrefix("http://") || origin.hasPrefix("https://")) || origin.hasSuffix("/") || origin == "*" {
                throw ConfigurationError(variable: "CORS_ORIGINS", message: "has \(origin), which is not an origin such as https://chat.example.org")
            }
            corsOrigins = .list(Set(origins))
        }
        if let port = env["METRICS_PORT"] {
            guard let number = Int(port), (0...65535).contains(number) else {
                throw ConfigurationError(variable: "METRICS_PORT", message: "must be a port from 0 to 65535, got \"\(port)\"")
            }
            metricsListener = (env.string("METRICS_HOST", default: "127.0.0.1"), number)
        }
        metricsToken = env["METRICS_TOKEN"]
        if let token = metricsToken, token.utf8.count < 16 {
            throw ConfigurationError(variable: "METRICS_TOKEN", message: "must be at least 16 characters, got \(token.utf8.count)")
        }
        if metricsListener == nil && metricsToken == nil { defaultsUsed.append("METRICS_PORT and METRICS_TOKEN unset: /metrics is not served") }
        if providers.upstreams.isEmpty { defaultsUsed.append("no LLM_BASE_URL or MODELS_FILE: serving the built-in mock model") }
        if env["DATABASE_URL"] == nil { defaultsUsed.append("DATABASE_URL unset: SQLite database at \(storage.sqlitePath ?? "")") }
        if env["REDIS_URL"] == nil { defaultsUsed.append("REDIS_URL unset: rate limits kept in this process") }
        if env["JWT_SECRET"] == nil { defaultsUsed.append("JWT_SECRET unset: development secret kept at \(auth.devSecretPath)") }
    }

    /// The host name (a container's id) and six random hex digits.
    static func defaultInstanceID() -> String {
        var name = [CChar](repeating: 0, count: 256)
        let host = gethostname(&name, name.count) == 0 ? String(decoding: name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "parley"
        let suffix = String(UInt32.random(in: 0...0xFF_FFFF), radix: 16)
        return String(host.filter { $0.isASCII && !$0.isWhitespace }.prefix(40)) + "-" + String(repeating: "0", count: 6 - suffix.count) + suffix
    }
}
