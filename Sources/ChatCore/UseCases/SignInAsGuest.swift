/// Signs in as a new guest: a real user with role `guest`, no e-mail, and an expiry after
/// which the account and its data are removed.
public struct SignInAsGuest: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction() async throws -> AuthTokens {
        guard deps.guestAccess else { throw DomainError.forbidden("guest access is off on this server: sign in or register") }
        let now = deps.clock.now()
        let guest = User(
            id: User.ID(deps.ids.newUUID()), email: nil, passwordHash: nil, role: .guest,
            createdAt: now, lastLoginAt: now, expiresAt: now.adding(deps.guestLifetime)
        )
        try await deps.users.create(guest)
        return try await deps.issueTokens(for: guest)
    }
}
