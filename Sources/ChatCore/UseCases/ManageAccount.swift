/// A user changes their own password: the current one is required (a stolen access token alone
/// cannot lock the owner out), every refresh token of theirs ends (other devices must sign in
/// again), and new tokens come back for the caller.
public struct ChangePassword: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, current: String, new: String) async throws -> AuthTokens {
        try PasswordPolicy.validate(new, field: "new_password")
        guard var user = try await deps.users.find(id: principal.user.id) else { throw DomainError.unauthenticated("the account no longer exists") }
        guard let hash = user.passwordHash else {
            throw DomainError.validation([FieldError("current_password", "cannot be checked: a guest has no password")])
        }
        try await deps.requirePassword(current, matching: hash, field: "current_password")
        user.passwordHash = try await deps.hasher.hash(new)
        try await deps.users.update(user)
        try await deps.refreshTokens.revokeAll(userID: user.id, at: deps.clock.now())
        return try await deps.issueTokens(for: user)
    }
}

/// A user deletes their own account with everything it holds. An account with a password must
/// give it; a guest has none to give. The last active admin cannot go.
public struct DeleteAccount: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, password: String?) async throws {
        guard let user = try await deps.users.find(id: principal.user.id) else { throw DomainError.unauthenticated("the account no longer exists") }
        if let hash = user.passwordHash {
            guard let password else { throw DomainError.validation([FieldError("password", "is required to delete an account")]) }
            try await deps.requirePassword(password, matching: hash, field: "password")
        }
        guard try await deps.users.deleteKeepingAnAdmin(id: user.id) else { throw DomainError.unauthenticated("the account no longer exists") }
    }
}

/// A guest becomes an account, keeping everything: the same user, now with an e-mail and a
/// password, the role `user` (and its limits) and no expiry. Like registering, it needs
/// registration to be open.
public struct UpgradeGuest: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, email rawEmail: String, password: String) async throws -> AuthTokens {
        guard principal.user.role == .guest else { throw DomainError.forbidden("this is an account already: only a guest is upgraded") }
        try deps.requireRegistrationOpen()
        let email = try CreateUser.validEmail(rawEmail, password: password)
        guard var user = try await deps.users.find(id: principal.user.id) else { throw DomainError.unauthenticated("the account no longer exists") }
        user.email = email
        user.passwordHash = try await deps.hasher.hash(password)
        user.role = .user
        user.expiresAt = nil
        try await deps.users.update(user)
        return try await deps.issueTokens(for: user)
    }
}
