public import ChatCore
public import FoundationEssentials

/// Users in SQLite or PostgreSQL: one set of statements serves both (see `SQLValue`).
public struct SQLUserRepository: UserRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    private static let columns = "id, email, password_hash, role, active, created_at, last_login_at, expires_at"

    public func create(_ user: User) async throws {
        do {
            _ = try await database.execute(
                "INSERT INTO users (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                [.text(user.id.description), .optional(user.email?.value), .optional(user.passwordHash), .text(user.role.rawValue),
                 .bool(user.isActive), .date(user.createdAt), .date(user.lastLoginAt), .date(user.expiresAt)]
            )
        } catch let error as SQLError where error.kind == .uniqueViolation {
            throw DomainError.emailTaken
        }
    }

    public func find(id: User.ID) async throws -> User? {
        try await database.query("SELECT \(Self.columns) FROM users WHERE id = $1", [.text(id.description)]).first.map(Self.decode)
    }

    public func find(email: EmailAddress) async throws -> User? {
        try await database.query("SELECT \(Self.columns) FROM users WHERE email = $1", [.text(email.value)]).first.map(Self.decode)
    }

    public func update(_ user: User) async throws {
        try await update(user, on: database)
    }

    /// PostgreSQL locks the active admins' rows (`FOR UPDATE`), so a second change waits for the
    /// first to commit and then counts without the admin it removed; SQLite's transactions run
    /// one at a time, which gives the same order.
    public func updateKeepingAnAdmin(_ user: User) async throws {
        let lock = database.dialect == .postgres ? " FOR UPDATE" : ""
        try await database.transaction { connection in
            let admins = try await connection.query("SELECT id FROM users WHERE role = 'admin' AND active = $1\(lock)", [.bool(true)])
            guard admins.contains(where: { $0["id"] != user.id.description }) else { throw DomainError.lastAdmin }
            try await update(user, on: connection)
        }
    }

    private func update(_ user: User, on connection: any SQLConnection) async throws {
        do {
            _ = try await connection.execute(
                "UPDATE users SET email = $2, password_hash = $3, role = $4, active = $5, last_login_at = $6, expires_at = $7 WHERE id = $1",
                [.text(user.id.description), .optional(user.email?.value), .optional(user.passwordHash), .text(user.role.rawValue),
                 .bool(user.isActive), .date(user.lastLoginAt), .date(user.expiresAt)]
            )
        } catch let error as SQLError where error.kind == .uniqueViolation {
            throw DomainError.emailTaken
        }
    }

    public func recordLogin(id: User.ID, at: Date) async throws {
        _ = try await database.execute("UPDATE users SET last_login_at = $2 WHERE id = $1", [.text(id.description), .date(at)])
    }

    public func list(emailContaining: String?, limit: Int, cursor: String?) async throws -> Page<User> {
        // LIKE with the pattern's own % and _ escaped, on lower-cased text: a substring, in any
        // case, the same on both databases.
        let filter = emailContaining.map { text -> (String, [SQLValue]) in
            let escaped = text.lowercased().replacingMatches("\\", "\\\\").replacingMatches("%", "\\%").replacingMatches("_", "\\_")
            return ("LOWER(email) LIKE $1 ESCAPE '\\'", [.text("%\(escaped)%")])
        }
        return try await keysetPage(database, select: Self.columns, from: "users", timeColumn: "created_at", filter: filter, limit: limit, cursor: cursor,
                                    decode: Self.decode) { ($0.createdAt, $0.id.description) }
    }

    public func countActiveAdmins() async throws -> Int {
        try await database.query("SELECT COUNT(*) AS n FROM users WHERE role = 'admin' AND active = $1", [.bool(true)]).first?.int("n") ?? 0
    }

    public func deleteKeepingAnAdmin(id: User.ID) async throws -> Bool {
        let lock = database.dialect == .postgres ? " FOR UPDATE" : ""
        return try await database.transaction { connection in
            let admins = try await connection.query("SELECT id FROM users WHERE role = 'admin' AND active = $1\(lock)", [.bool(true)])
            if admins.contains(where: { $0["id"] == id.description }), !admins.contains(where: { $0["id"] != id.description }) {
                throw DomainError.lastAdmin
            }
            return try await connection.execute("DELETE FROM users WHERE id = $1", [.text(id.description)]) == 1
        }
    }

    public func deleteExpiredGuests(now: Date) async throws -> Int {
        try await database.execute("DELETE FROM users WHERE role = 'guest' AND expires_at <= $1", [.date(now)])
    }

    static func decode(_ row: SQLRow) throws -> User {
        User(
            id: User.ID(try row.uuid("id")), email: row["email"].map(EmailAddress.init(trusted:)),
            passwordHash: row["password_hash"], role: Role(rawValue: try row.string("role")) ?? .user,
            isActive: try row.bool("active"), createdAt: try row.date("created_at"),
            lastLoginAt: try row.optionalDate("last_login_at"), expiresAt: try row.optionalDate("expires_at")
        )
    }
}

extension String {
    /// Every occurrence of `target` replaced (FoundationEssentials has no replacingOccurrences).
    func replacingMatches(_ target: String, _ replacement: String) -> String {
        split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
