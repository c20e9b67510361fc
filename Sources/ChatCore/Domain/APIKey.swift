public import FoundationEssentials

/// A personal API key for scripts (`pk_…`). The key itself is shown once; only its hash and
/// a short prefix (to tell keys apart in a list) are stored.
public struct APIKey: Sendable, Equatable {
    public typealias ID = Identifier<APIKey>

    public let id: ID
    public let userID: User.ID
    public let name: String
    public let prefix: String
    public let keyHash: String
    public let createdAt: Date
    public var lastUsedAt: Date?
    public let expiresAt: Date?
    public var revokedAt: Date?

    public init(id: ID, userID: User.ID, name: String, prefix: String, keyHash: String, createdAt: Date,
                lastUsedAt: Date? = nil, expiresAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.userID = userID
        self.name = name
        self.prefix = prefix
        self.keyHash = keyHash
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.expiresAt = expiresAt
        self.revokedAt = revokedAt
    }
}
