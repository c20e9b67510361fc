/// Where data lives: `DATABASE_URL` is `sqlite://PATH` (the default, `sqlite://parley.db`)
/// or `postgres://user:password@host:port/database`.
struct StorageConfiguration: Sendable {
    enum Location: Sendable, Equatable {
        case sqlite(path: String)
        case postgres(url: String)
    }

    var location: Location
    var autoMigrate: Bool
    /// `MIGRATIONS_DIR`; nil: the migrations compiled into the binary.
    var migrationsDirectory: String?
    var poolSize: Int
    /// `SPOOL_PATH`: where answers the database did not take are written at shutdown, to be
    /// saved by the next start.
    var spoolPath: String
    var acquireTimeout: Duration

    init(environment env: Environment) throws(ConfigurationError) {
        let url = env.string("DATABASE_URL", default: "sqlite://parley.db")
        if url.hasPrefix("sqlite://") {
            let path = String(url.dropFirst("sqlite://".count))
            guard !path.isEmpty else { throw ConfigurationError(variable: "DATABASE_URL", message: "sqlite:// needs a file path, got \"\(url)\"") }
            location = .sqlite(path: path)
        } else if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            location = .postgres(url: url)
        } else {
            throw ConfigurationError(variable: "DATABASE_URL", message: "must start with sqlite:// or postgres://, got a value that does not")
        }
        autoMigrate = try env.choice("AUTO_MIGRATE", default: "true", from: ["true", "false"]) == "true"
        migrationsDirectory = env["MIGRATIONS_DIR"].flatMap { $0.isEmpty ? nil : $0 }
        poolSize = try env.integer("DATABASE_POOL_SIZE", default: 10, range: 1...200)
        let folder: String
        if case .sqlite(let path) = location, let slash = path.lastIndex(of: "/") {
            folder = String(path[..<slash])
        } else {
            folder = "."
        }
        spoolPath = env.string("SPOOL_PATH", default: (folder.isEmpty ? "" : folder) + "/parley-pending.jsonl")
        acquireTimeout = try env.seconds("DATABASE_ACQUIRE_TIMEOUT_SECONDS", default: 5, range: 0.1...120)
    }

    var sqlitePath: String? {
        if case .sqlite(let path) = location { return path }
        return nil
    }
}

/// Token signing and account lifetimes.
struct AuthConfiguration: Sendable {
    var production: Bool
    /// `JWT_SECRET`, or nil when a development secret is to be generated and kept on disk.
    var jwtSecret: [UInt8]?
    var previousSecrets: [[UInt8]]
    var devSecretPath: String
    var guestLifetime: Duration
    /// `REGISTRATION=open|closed`: closed, only admins create accounts.
    var registrationOpen: Bool
    /// `GUEST_ACCESS=true|false`.
    var guestAccess: Bool
    /// `AUTH_CACHE_SECONDS`: how long a request's caller may be taken from memory rather than
    /// read; nil (0) reads it on every request.
    var userCacheTTL: Duration?

    init(environment env: Environment, storage: StorageConfiguration) throws(ConfigurationError) {
        production = try env.choice("APP_ENV", default: "development", from: ["development", "production"]) == "production"
        jwtSecret = env["JWT_SECRET"].map { Array($0.utf8) }
        if let secret = jwtSecret, secret.count < 32 {
            throw ConfigurationError(variable: "JWT_SECRET", message: "must be at least 32 bytes, got \(secret.count)")
        }
        if production && jwtSecret == nil {
            throw ConfigurationError(variable: "JWT_SECRET", message: "is required when APP_ENV=production (at least 32 random bytes)")
        }
        previousSecrets = (env["JWT_PREVIOUS_SECRETS"] ?? "").split(separator: ",").map { Array($0.utf8) }
        if previousSecrets.contains(where: { $0.count < 32 }) {
            throw ConfigurationError(variable: "JWT_PREVIOUS_SECRETS", message: "must be comma-separated secrets of at least 32 bytes each")
        }
        let directory: String
        if let path = storage.sqlitePath, let slash = path.lastIndex(of: "/") {
            directory = String(path[..<slash])
        } else {
            directory = "."
        }
        devSecretPath = (directory.isEmpty ? "/" : directory) + "/.parley-dev-jwt-secret"
        guestLifetime = try env.seconds("GUEST_TTL_SECONDS", default: 86_400, range: 60...(90 * 86_400))
        registrationOpen = try env.choice("REGISTRATION", default: "open", from: ["open", "closed"]) == "open"
        guestAccess = try env.choice("GUEST_ACCESS", default: "true", from: ["true", "false"]) == "true"
        let cacheTTL = try env.seconds("AUTH_CACHE_SECONDS", default: 10, range: 0...300)
        userCacheTTL = cacheTTL > .zero ? cacheTTL : nil
    }
}
