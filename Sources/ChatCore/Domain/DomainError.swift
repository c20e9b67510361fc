/// A field that failed validation and why, in words a client can show.
public struct FieldError: Sendable, Equatable {
    public let field: String
    public let message: String

    public init(_ field: String, _ message: String) {
        self.field = field
        self.message = message
    }
}

/// What went wrong, in domain terms. `ChatAPI` decides the HTTP status for each case.
public enum DomainError: Error, Sendable, Equatable {
    case validation([FieldError])
    /// Unknown e-mail or wrong password: deliberately one case, so callers cannot tell them apart.
    case invalidCredentials
    case accountDisabled
    case emailTaken
    /// A bearer token or API key that is missing, malformed, expired, revoked or forged.
    case unauthenticated(String)
    /// A refresh token that was already spent: its family has now been revoked.
    case refreshTokenReused
    case forbidden(String)
    case notFound(String)
    /// The change would leave no active admin.
    case lastAdmin
    /// A send while the session's previous answer is still being generated.
    case turnInProgress
    /// A stop when no answer is being generated in the session (here).
    case noTurnInProgress
    /// A limit was reached; retry after the time it says.
    case rateLimited(RateRefusal)
    /// The owner already has as many of something as one may (no waiting frees a place).
    case countLimit(CountLimit)
    /// A dependency cannot serve right now (database unreachable, hashing queue full).
    case unavailable(String)
}

/// An error from an adapter (database, cache) that may say its dependency is down, so the
/// API can answer 503 instead of 500 without knowing the adapter.
public protocol DependencyFailure: Error {
    /// True when retrying later may succeed (the dependency is unreachable or overloaded).
    var isTransient: Bool { get }
    /// True when the store refused the write because of a constraint that a concurrent change
    /// broke (a unique key taken, a referenced row deleted): a conflict, not a server fault.
    var isConstraintViolation: Bool { get }
}

extension DependencyFailure {
    public var isConstraintViolation: Bool { false }
}

/// A cap on how many of something one owner may have.
public struct CountLimit: Sendable, Equatable {
    /// The tier name clients see (`sessions`, `projects`, `api_keys`, `prompts`).
    public let tier: String
    /// What is counted, in the plural ("sessions"), and per what ("account", "project").
    public let what: String
    public let per: String
    public let limit: Int

    public init(tier: String, what: String, per: String, limit: Int) {
        self.tier = tier
        self.what = what
        self.per = per
        self.limit = limit
    }
}
