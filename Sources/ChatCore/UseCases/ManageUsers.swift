/// Admin: list users.
public struct ListUsers: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, emailContaining: String? = nil, limit: Int, cursor: String?) async throws -> Page<User> {
        guard principal.user.role == .admin else { throw DomainError.forbidden("only admins can list users") }
        return try await asOperator(emailContaining: emailContaining, limit: limit, cursor: cursor)
    }

    /// For the operator at the command line (`parley user list`), who is no signed-in user.
    public func asOperator(emailContaining: String?, limit: Int, cursor: String?) async throws -> Page<User> {
        try await deps.users.list(emailContaining: emailContaining.flatMap { $0.isEmpty ? nil : $0 }, limit: limit, cursor: cursor)
    }
}

/// Admin: change a user's role or disable them. The last active admin cannot be demoted
/// or disabled, so the server never loses its administrators.
public struct UpdateUser: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, id: User.ID, role: Role?, isActive: Bool?) async throws -> User {
        guard principal.user.role == .admin else { throw DomainError.forbidden("only admins can change users") }
        return try await asOperator(id: id, role: role, isActive: isActive)
    }

    /// For the operator at the command line; the last-admin guard holds here too.
    public func asOperator(id: User.ID, role: Role?, isActive: Bool?) async throws -> User {
        guard var user = try await deps.users.find(id: id) else { throw DomainError.notFound("user") }
        let losesAdmin = user.role == .admin && user.isActive && ((role.map { $0 != .admin } ?? false) || isActive == false)
        if let role { user.role = role }
        if let isActive { user.isActive = isActive }
        if losesAdmin {
            try await deps.users.updateKeepingAnAdmin(user)
        } else {
            try await deps.users.update(user)
        }
        return user
    }
}

/// Admin: set a user's password (they forgot it). Every refresh token of theirs ends, so a
/// device that had it must sign in with the new one. Audited by the caller.
public struct ResetPassword: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, id: User.ID, password: String) async throws {
        guard principal.user.role == .admin else { throw DomainError.forbidden("only admins can reset passwords") }
        try await asOperator(id: id, password: password)
    }

    /// For the operator at the command line (`parley user set-password`).
    public func asOperator(id: User.ID, password: String) async throws {
        try PasswordPolicy.validate(password)
        guard var user = try await deps.users.find(id: id) else { throw DomainError.notFound("user") }
        guard user.email != nil else { throw DomainError.validation([FieldError("user", "is a guest: a guest has no password")]) }
        user.passwordHash = try await deps.hasher.hash(password)
        try await deps.users.update(user)
        try await deps.refreshTokens.revokeAll(userID: user.id, at: deps.clock.now())
    }
}
