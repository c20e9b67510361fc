public import ChatCore
public import FoundationEssentials

public struct SQLAPIKeyRepository: APIKeyRepository {
    let database: any SQLDatabase

    public init(database: any SQLDatabase) {
        self.database = database
    }

    private static let columns = "id, user_id, name, prefix, key_hash, created_at, last_used_at, expires_at, revoked_at"

    public func insert(_ key: APIKey) async throws {
        _ = try await database.execute(
            "INSERT INTO api_keys (\(Self.columns)) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            [.text(key.id.description), .text(key.userID.description), .text(key.name), .text(key.prefix), .text(key.keyHash),
             .date(key.createdAt), .date(key.lastUsedAt), .date(key.expiresAt), .date(key.revokedAt)]
        )
    }

    public func find(hash: String) async throws -> APIKey? {
        try await database.query("SELECT \(Self.columns) FROM api_keys WHERE key_hash = $1", [.text(hash)]).first.map(Self.decode)
    }

    public func list(userID: User.ID) async throws -> [APIKey] {
        try await database.query(
            "SELECT \(Self.columns) FROM api_keys WHERE user_id = $1 ORDER BY created_at DESC, id DESC", [.text(userID.description)]
        ).map(Self.decode)
    }

    public func revoke(id: APIKey.ID, userID: User.ID, at: Date) async throws -> Bool {
        try await database.execute(
            "UPDATE api_keys SET revoked_at = $3 WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL",
            [.text(id.description), .text(userID.description), .date(at)]
        ) == 1
    }

    public func recordUse(id: APIKey.ID, at: Date) async throws {
        _ = try await database.execute("UPDATE api_keys SET last_used_at = $2 WHERE id = $1", [.text(id.description), .date(at)])
    }

    static func decode(_ row: SQLRow) throws -> APIKey {
        APIKey(
            id: APIKey.ID(try row.uuid("id")), userID: User.ID(try row.uuid("user_id")), name: try row.string("name"),
            prefix: try row.string("prefix"), keyHash: try row.string("key_hash"), createdAt: try row.date("created_at"),
            lastUsedAt: try row.optionalDate("last_used_at"), expiresAt: try row.optionalDate("expires_at"),
            revokedAt: try row.optionalDate("revoked_at")
        )
    }
}
