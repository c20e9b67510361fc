/// Who is making a request, and how they proved it.
public struct Principal: Sendable, Equatable {
    public enum Credential: Sendable, Equatable {
        case accessToken
        case apiKey(APIKey.ID)
    }

    public let user: User
    public let credential: Credential

    public init(user: User, credential: Credential) {
        self.user = user
        self.credential = credential
    }
}

/// Turns a bearer credential (an access token or a `pk_` API key) into a principal.
///
/// The user is read on every request (or taken from the `UserCache`, which every change to a
/// user empties of them), so a disabled account or a changed role takes effect at once rather
/// than when the access token expires.
public struct Authenticate: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(bearer: String) async throws -> Principal {
        let now = deps.clock.now()
        let userID: User.ID
        let credential: Principal.Credential
        if bearer.hasPrefix("pk_") {
            guard let key = try await deps.apiKeys.find(hash: deps.secrets.digest(bearer)) else {
                throw DomainError.unauthenticated("the API key is not valid")
            }
            guard key.revokedAt == nil else { throw DomainError.unauthenticated("the API key was revoked") }
            if let expiry = key.expiresAt, expiry <= now { throw DomainError.unauthenticated("the API key has expired") }
            // The last-used time is a side note: a database that takes reads but not writes
            // (read-only, full) must not turn every API-key request away for it.
            try? await deps.apiKeys.recordUse(id: key.id, at: now)
            userID = key.userID
            credential = .apiKey(key.id)
        } else {
            userID = try deps.accessTokens.verify(bearer, now: now).userID
            credential = .accessToken
        }
        let users = deps.users
        let found = if let cache = deps.userCache {
            try await cache.user(userID) { try await users.find(id: userID) }
        } else {
            try await users.find(id: userID)
        }
        guard let user = found else {
            throw DomainError.unauthenticated("the account no longer exists")
        }
        try deps.requireUsable(user, now: now)
        return Principal(user: user, credential: credential)
    }
}
