import ChatCore
import Foundation
import Storage
import StorageTesting
import Testing

/// One contract for the repositories, run against every database parley supports.
@Suite(.timeLimit(.minutes(5))) struct RepositoryContractTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000.123)

    func user(_ email: String?, role: Role = .user, at offset: Double = 0, expires: Date? = nil) throws -> User {
        User(id: User.ID(UUID()), email: try email.map { try EmailAddress($0) }, passwordHash: email == nil ? nil : "hash",
             role: role, createdAt: t0.addingTimeInterval(offset), expiresAt: expires)
    }

    @Test(arguments: TestBackend.available)
    func usersRoundTripAndEmailIsUnique(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        let users = SQLUserRepository(database: db)
        var ann = try user("ann@example.org")
        ann.lastLoginAt = t0.addingTimeInterval(5)
        try await users.create(ann)
        #expect(try await users.find(id: ann.id) == ann)
        #expect(try await users.find(email: EmailAddress("ANN@example.org")) == ann)
        await #expect(throws: DomainError.emailTaken) { try await users.create(try user("ann@example.org")) }
        ann.role = .admin
        ann.isActive = false
        try await users.update(ann)
        #expect(try await users.find(id: ann.id) == ann)
        #expect(try await users.countActiveAdmins() == 0)
        await db.close()
    }

    /// SQL metacharacters and very long values are data, never syntax.
    @Test(arguments: TestBackend.available)
    func hostileValuesAreStoredVerbatim(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        let users = SQLUserRepository(database: db)
        let keys = SQLAPIKeyRepository(database: db)
        let owner = try user("o@example.org")
        try await users.create(owner)
        for name in ["'; DROP TABLE users; --", "Robert'); DELETE FROM api_keys;--", "\\ \" ` $1 %s ?", String(repeating: "ä", count: 10_000)] {
            let key = APIKey(id: APIKey.ID(UUID()), userID: owner.id, name: name, prefix: "pk_x", keyHash: UUID().uuidString, createdAt: t0)
            try await keys.insert(key)
            #expect(try await keys.find(hash: key.keyHash)?.name == name)
        }
        #expect(try await keys.list(userID: owner.id).count == 4)
        #expect(try await users.find(id: owner.id) != nil)
        await db.close()
    }

    @Test(arguments: TestBackend.available)
    func usersArePagedNewestFirstWithoutGapsOrRepeats(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        let users = SQLUserRepository(database: db)
        var created: [User] = []
        for i in 0..<7 {
            // Two users share each timestamp, so the id must break ties.
            let u = try user("u\(i)@example.org", at: Double(i / 2))
            try await users.create(u)
            created.append(u)
        }
        var seen: [User.ID] = []
        var cursor: String?
        repeat {
            let page = try await users.list(emailContaining: nil, limit: 3, cursor: cursor)
            seen += page.items.map(\.id)
            cursor = page.nextCursor
        } while cursor != nil
        let expected = created.sorted { ($0.createdAt, $0.id.description) > ($1.createdAt, $1.id.description) }.map(\.id)
        #expect(seen == expected)
        await #expect(throws: DomainError.self) { try await users.list(emailContaining: nil, limit: 3, cursor: "not-a-cursor") }
        await db.close()
    }

    @Test(arguments: TestBackend.available)
    func expiredGuestsAreDeletedWithTheirTokens(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        let users = SQLUserRepository(database: db)
        let tokens = SQLRefreshTokenRepository(database: db)
        let guest = try user(nil, role: .guest, expires: t0.addingTimeInterval(60))
        let fresh = try user(nil, role: .guest, expires: t0.addingTimeInterval(3600))
        try await users.create(guest)
        try await users.create(fresh)
        let token = RefreshToken(id: RefreshToken.ID(UUID()), userID: guest.id, family: RefreshToken.Family(UUID()),
                                 tokenHash: "h-guest", createdAt: t0, expiresAt: t0.addingTimeInterval(999))
        try await tokens.insert(token)
        #expect(try await users.deleteExpiredGuests(now: t0.addingTimeInterval(61)) == 1)
        #expect(try await users.find(id: guest.id) == nil)
        #expect(try await users.find(id: fresh.id) != nil)
        #expect(try await tokens.find(hash: "h-guest") == nil)
        await db.close()
    }

    /// Twenty refreshes of one token at once: exactly one may spend it.
    @Test(arguments: TestBackend.available)
    func refreshTokenIsSpentExactlyOnceUnderConcurrency(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        let users = SQLUserRepository(database: db)
        let tokens = SQLRefreshTokenRepository(database: db)
        let owner = try user("o@example.org")
        try await users.create(owner)
        let token = RefreshToken(id: RefreshToken.ID(UUID()), userID: owner.id, family: RefreshToken.Family(UUID()),
                                 tokenHash: "h1", createdAt: t0, expiresAt: t0.addingTimeInterval(999))
        try await tokens.insert(token)
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<20 {
                let successor = RefreshToken(id: RefreshToken.ID(UUID()), userID: owner.id, family: token.family,
                                             tokenHash: "s\(i)", createdAt: t0, expiresAt: t0.addingTimeInterval(999))
                group.addTask { try await tokens.rotate(spending: token, successor: successor, at: Date()) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(wins == 1)
        let stored = try await (0..<20).asyncCount { try await tokens.find(hash: "s\($0)") != nil }
        #expect(stored == 1, "only the winner's successor is stored")
        try await tokens.revokeFamily(token.family, at: t0)
        #expect(try await tokens.find(hash: "h1")?.revokedAt != nil)
        await db.close()
    }

    /// Twenty registrations of one e-mail at once: exactly one account.
    @Test(arguments: TestBackend.available)
    func concurrentRegistrationOfOneEmailCreatesOneAccount(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        let users = SQLUserRepository(database: db)
        let candidates = try (0..<20).map { _ in try user("same@example.org") }
        let created = await withTaskGroup(of: Bool.self) { group in
            for candidate in candidates {
                group.addTask { (try? await users.create(candidate)) != nil }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        #expect(created == 1)
        await db.close()
    }

    @Test(arguments: TestBackend.available)
    func apiKeysAreScopedToTheirOwner(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        let users = SQLUserRepository(database: db)
        let keys = SQLAPIKeyRepository(database: db)
        let ann = try user("ann@example.org"), bob = try user("bob@example.org")
        try await users.create(ann)
        try await users.create(bob)
        let key = APIKey(id: APIKey.ID(UUID()), userID: ann.id, name: "k", prefix: "pk_abc", keyHash: "kh", createdAt: t0,
                         expiresAt: t0.addingTimeInterval(86400))
        try await keys.insert(key)
        #expect(try await keys.revoke(id: key.id, userID: bob.id, at: t0) == false)
        try await keys.recordUse(id: key.id, at: t0.addingTimeInterval(1))
        #expect(try await keys.find(hash: "kh")?.lastUsedAt == t0.addingTimeInterval(1))
        #expect(try await keys.revoke(id: key.id, userID: ann.id, at: t0) == true)
        #expect(try await keys.revoke(id: key.id, userID: ann.id, at: t0) == false)
        await db.close()
    }

    /// The binary's migrations are the folder's, to the byte: run scripts/embed-migrations.py
    /// after changing one.
    @Test(arguments: [SQLDialect.sqlite, .postgres])
    func embeddedMigrationsEqualTheFolder(_ dialect: SQLDialect) throws {
        let embedded = try Migrator.migrations(dialect: dialect, directory: nil)
        #expect(embedded.count >= 3)
        #expect(embedded == (try Migrator.migrations(dialect: dialect, directory: migrationsDirectory)),
                "migrations/ changed: run scripts/embed-migrations.py")
    }

    @Test(arguments: TestBackend.available)
    func migrationsApplyOnceAndRefuseChangedFiles(_ backend: TestBackend) async throws {
        guard let db = try await backend.makeDatabase() else { return }
        #expect(try await Migrator(database: db, directory: migrationsDirectory).migrate().isEmpty)
        // A copy of the migrations with the applied file edited must be refused.
        let copy = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID().uuidString)")
        try FileManager.default.copyItem(atPath: migrationsDirectory, toPath: copy.path)
        let file = copy.appendingPathComponent(db.dialect.rawValue).appendingPathComponent("0001_accounts.sql")
        try (String(contentsOf: file, encoding: .utf8) + "\n-- edited\n").write(to: file, atomically: true, encoding: .utf8)
        await #expect(throws: Migrator.Failure.changedAfterApplied("0001_accounts.sql")) {
            try await Migrator(database: db, directory: copy.path).migrate()
        }
        await db.close()
    }
}

@Suite(.timeLimit(.minutes(5))) struct SQLDateTests {
    @Test func formatsFixedWidthAndRoundTrips() {
        let date = Date(timeIntervalSince1970: 1_800_000_000.123)
        #expect(SQLDate.format(date) == "2027-01-15T08:00:00.123Z")
        #expect(SQLDate.parse(SQLDate.format(date)) == date)
        #expect(SQLDate.format(Date(timeIntervalSince1970: 0)) == "1970-01-01T00:00:00.000Z")
    }

    @Test func readsPostgresOutput() {
        #expect(SQLDate.parse("2027-01-15 08:00:00.123+00") == Date(timeIntervalSince1970: 1_800_000_000.123))
        #expect(SQLDate.parse("2027-01-15 10:00:00+02") == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(SQLDate.parse("2027-01-15 08:00:00") == Date(timeIntervalSince1970: 1_800_000_000))
        #expect(SQLDate.parse("yesterday") == nil)
    }
}

extension Range<Int> {
    func asyncCount(_ predicate: (Int) async throws -> Bool) async rethrows -> Int {
        var count = 0
        for i in self where try await predicate(i) { count += 1 }
        return count
    }
}

/// Says whether the PostgreSQL cases ran: a skip (with the reason) where no test PostgreSQL is configured.
@Suite(.timeLimit(.minutes(5))) struct TestPostgresTests {
    @Test(.enabled(if: TestBackend.postgresConfigured, "no test PostgreSQL (make test starts one): the postgres cases of the contract tests were left out"))
    func postgresIsReachable() async throws {
        let database = try #require(try await TestBackend.postgres.makeDatabase())
        #expect(await database.ping())
        await database.close()
    }
}
