public import FoundationEssentials

/// Everything the account use cases need, built once by the composition root.
public struct AuthDependencies: Sendable {
    public let users: any UserRepository
    public let refreshTokens: any RefreshTokenRepository
    public let apiKeys: any APIKeyRepository
    public let hasher: any PasswordHasher
    public let accessTokens: any AccessTokenIssuer
    public let secrets: any SecretGenerator
    public let clock: any WallClock
    public let ids: any IDGenerator
    public let refreshTokenLifetime: Duration
    public let guestLifetime: Duration
    /// A hash of a password nobody has, checked when the e-mail is unknown so that an unknown
    /// e-mail costs the same time as a wrong password.
    public let decoyPasswordHash: String
    /// Caps on what one owner may keep (API keys here).
    public var ownership = OwnershipLimits()
    /// Failed sign-ins per account, or nil for no such limit.
    public var loginThrottle: LoginThrottle?
    /// Whether anyone may register (`REGISTRATION=open`); closed, only admins create accounts.
    public var registrationOpen = true
    /// Whether anyone may sign in as a guest (`GUEST_ACCESS=true`).
    public var guestAccess = true
    /// The users authentication keeps for a short while (`AUTH_CACHE_SECONDS`), or nil to read
    /// the caller's row on every request. `users` must then tell it of every change (see
    /// `UserChangeNotifier`).
    public var userCache: UserCache?

    public init(
        users: any UserRepository, refreshTokens: any RefreshTokenRepository, apiKeys: any APIKeyRepository,
        hasher: any PasswordHasher, accessTokens: any AccessTokenIssuer, secrets: any SecretGenerator,
        clock: any WallClock = SystemClock(), ids: any IDGenerator = TimeOrderedIDGenerator(),
        refreshTokenLifetime: Duration = .seconds(30 * 24 * 3600), guestLifetime: Duration = .seconds(24 * 3600),
        decoyPasswordHash: String
    ) {
        self.users = users
        self.refreshTokens = refreshTokens
        self.apiKeys = apiKeys
        self.hasher = hasher
        self.accessTokens = accessTokens
        self.secrets = secrets
        self.clock = clock
        self.ids = ids
        self.refreshTokenLifetime = refreshTokenLifetime
        self.guestLifetime = guestLifetime
        self.decoyPasswordHash = decoyPasswordHash
    }
}

/// What every successful sign-in returns.
public struct AuthTokens: Sendable {
    public let accessToken: String
    public let refreshToken: String
    /// Seconds until the access token expires.
    public let expiresIn: Int
    public let user: User
}

extension AuthDependencies {
    /// Issues an access token and a new refresh token, in `family` or a new one.
    func issueTokens(for user: User) async throws -> AuthTokens {
        let now = clock.now()
        let (secret, token) = newRefreshToken(for: user, family: RefreshToken.Family(ids.newUUID()), now: now)
        try await refreshTokens.insert(token)
        return try authTokens(for: user, refreshSecret: secret, now: now)
    }

    /// A new refresh token in `family`: the secret for the client and the row that stores its digest.
    func newRefreshToken(for user: User, family: RefreshToken.Family, now: Date) -> (secret: String, token: RefreshToken) {
        let secret = secrets.newSecret(prefix: "rt_")
        let token = RefreshToken(
            id: RefreshToken.ID(ids.newUUID()), userID: user.id, family: family,
            tokenHash: secrets.digest(secret), createdAt: now, expiresAt: now.adding(refreshTokenLifetime)
        )
        return (secret, token)
    }

    func authTokens(for user: User, refreshSecret: String, now: Date) throws -> AuthTokens {
        AuthTokens(
            accessToken: try accessTokens.issue(for: user, now: now), refreshToken: refreshSecret,
            expiresIn: Int(accessTokens.lifetime.components.seconds), user: user
        )
    }

    /// Throws unless anyone may create an account (registering, or a guest upgrading).
    func requireRegistrationOpen() throws(DomainError) {
        guard registrationOpen else { throw .forbidden("registration is closed on this server: an administrator creates accounts") }
    }

    /// Throws a validation error on `field` unless `password` is the one `hash` was made from
    /// (the user proving it is them before a change only they may make).
    func requirePassword(_ password: String, matching hash: String, field: String) async throws {
        guard password.count <= PasswordPolicy.maximumLength, try await hasher.verify(password, against: hash, suspect: false) else {
            throw DomainError.validation([FieldError(field, "is not your password")])
        }
    }

    func requireUsable(_ user: User, now: Date) throws(DomainError) {
        guard user.isActive else { throw .accountDisabled }
        if let expiry = user.expiresAt, expiry <= now { throw .unauthenticated("the guest session has expired") }
    }
}

extension Date {
    public func adding(_ duration: Duration) -> Date {
        let (seconds, attoseconds) = duration.components
        return addingTimeInterval(Double(seconds) + Double(attoseconds) / 1e18)
    }
}
