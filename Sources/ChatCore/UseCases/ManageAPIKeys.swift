import FoundationEssentials

/// Creates a personal API key; the returned secret is the only time it is shown.
public struct CreateAPIKey: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal, name: String, expiresInDays: Int?) async throws -> (secret: String, key: APIKey) {
        guard principal.user.role != .guest else { throw DomainError.forbidden("guests cannot create API keys") }
        var problems: [FieldError] = []
        let trimmed = name.trimmingWhiteSpace()
        if trimmed.isEmpty || trimmed.count > 100 { problems.append(FieldError("name", "must be 1 to 100 characters")) }
        if let days = expiresInDays, !(1...3650).contains(days) {
            problems.append(FieldError("expires_in_days", "must be from 1 to 3650"))
        }
        guard problems.isEmpty else { throw DomainError.validation(problems) }
        let now = deps.clock.now()
        let live = try await deps.apiKeys.list(userID: principal.user.id).filter { $0.revokedAt == nil && ($0.expiresAt ?? .distantFuture) > now }
        try deps.ownership.check(live.count, below: deps.ownership.apiKeysPerUser, tier: "api_keys", what: "API keys")
        let secret = deps.secrets.newSecret(prefix: "pk_")
        let key = APIKey(
            id: APIKey.ID(deps.ids.newUUID()), userID: principal.user.id, name: trimmed,
            prefix: String(secret.prefix(11)), keyHash: deps.secrets.digest(secret), createdAt: now,
            expiresAt: expiresInDays.map { now.adding(.seconds($0 * 86_400)) }
        )
        try await deps.apiKeys.insert(key)
        return (secret, key)
    }
}

public struct ListAPIKeys: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(_ principal: Principal) async throws -> [APIKey] {
        try await deps.apiKeys.list(userID: principal.user.id)
    }
}

public struct RevokeAPIKey: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    /// Another user's key is "not found", never "forbidden": its existence is not revealed.
    public func callAsFunction(_ principal: Principal, id: APIKey.ID) async throws {
        guard try await deps.apiKeys.revoke(id: id, userID: principal.user.id, at: deps.clock.now()) else {
            throw DomainError.notFound("API key")
        }
    }
}
