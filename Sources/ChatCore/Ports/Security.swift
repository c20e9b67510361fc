public import FoundationEssentials

/// Hashes and checks passwords (argon2id in production). Slow on purpose.
public protocol PasswordHasher: Sendable {
    func hash(_ password: String) async throws -> String
    func verify(_ password: String, against hash: String) async throws -> Bool
    /// As `verify`; a `suspect` check (an account with recent failed sign-ins) may only use a
    /// share of the hashing capacity, so a flood against some accounts cannot starve the rest.
    func verify(_ password: String, against hash: String, suspect: Bool) async throws -> Bool
}

extension PasswordHasher {
    public func verify(_ password: String, against hash: String, suspect: Bool) async throws -> Bool {
        try await verify(password, against: hash)
    }
}

/// What an access token says about its bearer.
public struct AccessClaims: Sendable, Equatable {
    public let userID: User.ID
    public let role: Role
    public let expiresAt: Date

    public init(userID: User.ID, role: Role, expiresAt: Date) {
        self.userID = userID
        self.role = role
        self.expiresAt = expiresAt
    }
}

/// Issues and verifies short-lived access tokens (JWT HS256 in production).
public protocol AccessTokenIssuer: Sendable {
    /// How long an access token is valid.
    var lifetime: Duration { get }
    func issue(for user: User, now: Date) throws -> String
    /// Verifies signature, algorithm and times; throws `DomainError.unauthenticated` with the reason.
    func verify(_ token: String, now: Date) throws -> AccessClaims
}

/// Makes unguessable secrets (refresh tokens, API keys) and the digests that are stored instead.
public protocol SecretGenerator: Sendable {
    /// 256 random bits, base64url, after `prefix`.
    func newSecret(prefix: String) -> String
    /// A one-way digest of a secret (SHA-256, hex).
    func digest(_ secret: String) -> String
}
