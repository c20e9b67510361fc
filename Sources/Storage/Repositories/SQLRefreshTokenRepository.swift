public import ChatCore
public import FoundationEssentials

public struct SQLRefreshTokenRepository: RefreshTokenRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    public func insert(_ token: RefreshToken) async throws {
        _ = try await database.execute(
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

    /// One conditional UPDATE: of two concurrent refreshes with the same token, exactly one changes the row.
    public func markUsed(id: RefreshToken.ID, at: Date) async throws -> Bool {
        try await database.execute("UPDATE refresh_tokens SET used_at = $2 WHERE id = $1 AND used_at IS NULL", [.text(id.description), .date(at)]) == 1
    }

    public func revokeFamily(_ family: RefreshToken.Family, at: Date) async throws {
        _ = try await database.execute(
            "UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL", [.text(family.description), .date(at)]
        )
    }
}
