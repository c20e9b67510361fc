public import ChatCore
public import FoundationEssentials

public struct SQLRefreshTokenRepository: RefreshTokenRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    public func insert(_ token: RefreshToken) async throws {
        try await insert(token, on: database)
    }

    func insert(_ token: RefreshToken, on connection: any SQLConnection) async throws {
        _ = try await connection.execute(
            "INSERT INTO refresh_tokens (id, user_id, family, token_hash, created_at, expires_at, used_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            [.text(token.id.description), .text(token.userID.description), .text(token.family.description), .text(token.tokenHash),
             .date(token.createdAt), .date(token.expiresAt), .date(token.usedAt), .date(token.revokedAt)]
        )
    }

    public func find(hash: String) async throws -> RefreshToken? {
        guard let row = try await database.query(
            "SELECT id, user_id, family, token_hash, created_at, expires_at, used_at, revoked_at FROM refresh_tokens WHERE token_hash = $1",
            [.text(hash)]
        ).first else { return nil }
        return RefreshToken(
            id: RefreshToken.ID(try row.uuid("id")), userID: User.ID(try row.uuid("user_id")),
            family: RefreshToken.Family(try row.uuid("family")), tokenHash: try row.string("token_hash"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"),
            usedAt: try row.optionalDate("used_at"), revokedAt: try row.optionalDate("revoked_at")
        )
    }

    /// One conditional UPDATE and the successor's INSERT in one transaction. Of two concurrent
    /// refreshes with the same token exactly one changes the row; the loser's revocation of the
    /// family waits on that row's lock until the winner commits, so it sees (and revokes) the
    /// successor. A family with a revoked member takes no new token.
    public func rotate(spending spent: RefreshToken, successor: RefreshToken, at: Date) async throws -> Bool {
        let insert = self
        return try await database.transaction { connection in
            let spentNow = try await connection.execute(
                """
                UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND revoked_at IS NULL
                AND NOT EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family = $3 AND r.revoked_at IS NOT NULL)
                """,
                [.text(spent.id.description), .date(at), .text(spent.family.description)]
            )
            guard spentNow == 1 else { return false }
            try await insert.insert(successor, on: connection)
            return true
        }
    }

    public func revokeAll(userID: User.ID, at: Date) async throws {
        _ = try await database.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL", [.text(userID.description), .date(at)]
        )
    }

    public func revokeFamily(_ family: RefreshToken.Family, at: Date) async throws {
        _ = try await database.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL", [.text(family.description), .date(at)]
        )
    }
}
