public import ChatCore
public import FoundationEssentials

/// Users in memory, with the same contract as the SQL repositories (unique e-mail, newest-first pages).
public actor InMemoryUserRepository: UserRepository {
    private var users: [User.ID: User] = [:]

    public init() {}

    public func create(_ user: User) async throws {
        if let email = user.email, users.values.contains(where: { $0.email == email }) { throw DomainError.emailTaken }
        users[user.id] = user
    }

    public func find(id: User.ID) async throws -> User? { users[id] }

    public func find(email: EmailAddress) async throws -> User? { users.values.first { $0.email == email } }

    public func update(_ user: User) async throws { users[user.id] = user }

    public func recordLogin(id: User.ID, at: Date) async throws { users[id]?.lastLoginAt = at }

    public func list(emailContaining: String?, limit: Int, cursor: String?) async throws -> Page<User> {
        let sorted = users.values.filter { user in
            emailContaining.map { user.email?.value.lowercased().contains($0.lowercased()) ?? false } ?? true
        }.sorted { ($0.createdAt, $0.id.description) > ($1.createdAt, $1.id.description) }
        let start = cursor.flatMap { c in sorted.firstIndex { $0.id.description == c }.map { $0 + 1 } } ?? 0
        let slice = Array(sorted.dropFirst(start).prefix(limit))
        let more = start + slice.count < sorted.count
        return Page(items: slice, nextCursor: more ? slice.last?.id.description : nil)
    }

    public func countActiveAdmins() async throws -> Int { users.values.filter { $0.role == .admin && $0.isActive }.count }

    public func updateKeepingAnAdmin(_ user: User) async throws {
        guard users.values.contains(where: { $0.role == .admin && $0.isActive && $0.id != user.id }) else { throw DomainError.lastAdmin }
        try await update(user)
    }

    public func deleteExpiredGuests(now: Date) async throws -> Int {
        let expired = users.values.filter { $0.role == .guest && ($0.expiresAt.map { $0 <= now } ?? false) }
        for user in expired { users[user.id] = nil }
        return expired.count
    }

    public func deleteKeepingAnAdmin(id: User.ID) async throws -> Bool {
        guard let user = users[id] else { return false }
        if user.role == .admin, user.isActive, !users.values.contains(where: { $0.role == .admin && $0.isActive && $0.id != id }) {
            throw DomainError.lastAdmin
        }
        users[id] = nil
        return true
    }
}

public actor InMemoryRefreshTokenRepository: RefreshTokenRepository {
    private var tokens: [RefreshToken.ID: RefreshToken] = [:]

    public init() {}

    public func insert(_ token: RefreshToken) async throws { tokens[token.id] = token }

    public func find(hash: String) async throws -> RefreshToken? { tokens.values.first { $0.tokenHash == hash } }

    public func rotate(spending spent: RefreshToken, successor: RefreshToken, at: Date) async throws -> Bool {
        guard var token = tokens[spent.id], token.usedAt == nil, token.revokedAt == nil,
              !tokens.values.contains(where: { $0.family == spent.family && $0.revokedAt != nil })
        else { return false }
        token.usedAt = at
        tokens[spent.id] = token
        tokens[successor.id] = successor
        return true
    }

    public func revokeFamily(_ family: RefreshToken.Family, at: Date) async throws {
        for (id, token) in tokens where token.family == family && token.revokedAt == nil {
            tokens[id]?.revokedAt = at
        }
    }

    public func revokeAll(userID: User.ID, at: Date) async throws {
        for (id, token) in tokens where token.userID == userID && token.revokedAt == nil {
            tokens[id]?.revokedAt = at
        }
    }
}

public actor InMemoryAPIKeyRepository: APIKeyRepository {
    private var keys: [APIKey.ID: APIKey] = [:]

    public init() {}

    public func insert(_ key: APIKey) async throws { keys[key.id] = key }

    public func find(hash: String) async throws -> APIKey? { keys.values.first { $0.keyHash == hash } }

    public func list(userID: User.ID) async throws -> [APIKey] {
        keys.values.filter { $0.userID == userID }.sorted { $0.createdAt > $1.createdAt }
    }

    public func revoke(id: APIKey.ID, userID: User.ID, at: Date) async throws -> Bool {
        guard let key = keys[id], key.userID == userID, key.revokedAt == nil else { return false }
        keys[id]?.revokedAt = at
        return true
    }

    public func recordUse(id: APIKey.ID, at: Date) async throws { keys[id]?.lastUsedAt = at }
}
