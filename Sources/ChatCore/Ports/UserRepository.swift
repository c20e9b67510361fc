public import FoundationEssentials

/// A page of a list, newest first, with the cursor of the next page (nil on the last).
public struct Page<Item: Sendable>: Sendable {
    public let items: [Item]
    public let nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// Where users are kept.
public protocol UserRepository: Sendable {
    /// Inserts a user; throws `DomainError.emailTaken` if the e-mail is already used.
    func create(_ user: User) async throws
    func find(id: User.ID) async throws -> User?
    func find(email: EmailAddress) async throws -> User?
    /// Writes role, active flag, e-mail, password hash, last login and expiry.
    func update(_ user: User) async throws
    /// Sets only the last-login time, so a sign-in racing an admin's change cannot undo it.
    func recordLogin(id: User.ID, at: Date) async throws
    /// Users newest first, only those whose e-mail contains `emailContaining` (any case) when
    /// given; `cursor` is the `nextCursor` of the page before.
    func list(emailContaining: String?, limit: Int, cursor: String?) async throws -> Page<User>
    func countActiveAdmins() async throws -> Int
    /// Writes as `update` does, for a change that takes `user` out of the active admins, in one
    /// transaction with the check that another active admin remains; throws
    /// `DomainError.lastAdmin` (writing nothing) if none would. Two such changes at once can
    /// never both pass the check.
    func updateKeepingAnAdmin(_ user: User) async throws
    /// Deletes guests whose expiry has passed, with everything they own; returns how many.
    func deleteExpiredGuests(now: Date) async throws -> Int
    /// Deletes the user with everything they own (sessions, messages, keys, tokens, usage); in
    /// one transaction with the check that another active admin remains when the user is one
    /// (`DomainError.lastAdmin` otherwise). False if there is no such user.
    func deleteKeepingAnAdmin(id: User.ID) async throws -> Bool
}

/// Where refresh tokens are kept (hashed).
public protocol RefreshTokenRepository: Sendable {
    func insert(_ token: RefreshToken) async throws
    func find(hash: String) async throws -> RefreshToken?
    /// Spends the token `spent` and stores its `successor`, in one transaction: true for the
    /// one caller that spent it; false, storing nothing, if it had been spent before (a replay)
    /// or its family has been revoked. Atomic, so a successor can never outlive a revocation
    /// of its family that a replay started.
    func rotate(spending spent: RefreshToken, successor: RefreshToken, at: Date) async throws -> Bool
    func revokeFamily(_ family: RefreshToken.Family, at: Date) async throws
    /// Revokes every refresh token of the user (a password change signs out everywhere).
    func revokeAll(userID: User.ID, at: Date) async throws
}

/// Where API keys are kept (hashed).
public protocol APIKeyRepository: Sendable {
    func insert(_ key: APIKey) async throws
    func find(hash: String) async throws -> APIKey?
    func list(userID: User.ID) async throws -> [APIKey]
    /// Revokes the user's key; false if there is no such key of theirs.
    func revoke(id: APIKey.ID, userID: User.ID, at: Date) async throws -> Bool
    func recordUse(id: APIKey.ID, at: Date) async throws
}
