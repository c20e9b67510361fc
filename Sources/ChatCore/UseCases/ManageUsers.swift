/// Admin: list users.
public struct ListUsers: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, limit: Int, cursor: String?) async throws -> Page<User> {
        guard principal.user.role == .admin else { throw DomainError.forbidden("only admins can list users") }
        return try await deps.users.list(limit: limit, cursor: cursor)
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
