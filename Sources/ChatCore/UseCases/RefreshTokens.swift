/// Trades a refresh token for a new access token and a new refresh token (rotation).
/// A token presented a second time revokes its whole family: whoever holds a copy is shut out.
public struct RefreshTokens: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(refreshToken: String) async throws -> AuthTokens {
        let now = deps.clock.now()
        guard let token = try await deps.refreshTokens.find(hash: deps.secrets.digest(refreshToken)),
              token.revokedAt == nil, token.expiresAt > now
        else { throw DomainError.unauthenticated("the refresh token is not valid") }
        guard let user = try await deps.users.find(id: token.userID) else {
            throw DomainError.unauthenticated("the refresh token is not valid")
        }
        do {
            try deps.requireUsable(user, now: now)
        } catch {
            try await deps.refreshTokens.revokeFamily(token.family, at: now)
            throw error
        }
        let (secret, successor) = deps.newRefreshToken(for: user, family: token.family, now: now)
        guard try await deps.refreshTokens.rotate(spending: token, successor: successor, at: now) else {
            try await deps.refreshTokens.revokeFamily(token.family, at: now)
            throw DomainError.refreshTokenReused
        }
        return try deps.authTokens(for: user, refreshSecret: secret, now: now)
    }
}

/// Ends a session: revokes the refresh token's family. The token must be the caller's.
public struct LogOut: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, refreshToken: String) async throws {
        guard let token = try await deps.refreshTokens.find(hash: deps.secrets.digest(refreshToken)),
              token.userID == principal.user.id
        else { throw DomainError.unauthenticated("the refresh token is not valid") }
        try await deps.refreshTokens.revokeFamily(token.family, at: deps.clock.now())
    }
}
