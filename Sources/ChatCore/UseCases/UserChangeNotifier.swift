public import FoundationEssentials

/// A user repository that reports every change it writes: to this instance's `UserCache` and to
/// whatever passes changes on to the other instances, before the write returns (so when an
/// admin's request to disable an account is answered, every instance has been told). Reads go
/// straight through.
public struct UserChangeNotifier: UserRepository {
    let inner: any UserRepository
    /// Told the user that changed, or nil when many may have (expired guests removed).
    let changed: @Sendable (User.ID?) async -> Void

    public init(_ inner: any UserRepository, changed: @escaping @Sendable (User.ID?) async -> Void) {
        self.inner = inner
        self.changed = changed
    }

    public func create(_ user: User) async throws { try await inner.create(user) }
    public func find(id: User.ID) async throws -> User? { try await inner.find(id: id) }
    public func find(email: EmailAddress) async throws -> User? { try await inner.find(email: email) }
    public func list(emailContaining: String?, limit: Int, cursor: String?) async throws -> Page<User> {
        try await inner.list(emailContaining: emailContaining, limit: limit, cursor: cursor)
    }
    public func countActiveAdmins() async throws -> Int { try await inner.countActiveAdmins() }

    public func update(_ user: User) async throws {
        try await reporting(user.id) { try await inner.update(user) }
    }

    public func recordLogin(id: User.ID, at: Date) async throws {
        try await reporting(id) { try await inner.recordLogin(id: id, at: at) }
    }

    public func updateKeepingAnAdmin(_ user: User) async throws {
        try await reporting(user.id) { try await inner.updateKeepingAnAdmin(user) }
    }

    public func deleteExpiredGuests(now: Date) async throws -> Int {
        let deleted = try await inner.deleteExpiredGuests(now: now)
        if deleted > 0 { await changed(nil) }
        return deleted
    }

    public func deleteKeepingAnAdmin(id: User.ID) async throws -> Bool {
        try await reporting(id) { try await inner.deleteKeepingAnAdmin(id: id) }
    }

    /// Reports the change also when the write throws: one that failed after its commit (a
    /// lost connection) may have changed the row, and a needless report costs one read.
    private func reporting<T: Sendable>(_ id: User.ID, _ write: () async throws -> T) async throws -> T {
        let result: T
        do {
            result = try await write()
        } catch {
            await changed(id)
            throw error
        }
        await changed(id)
        return result
    }
}
