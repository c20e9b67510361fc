public import FoundationEssentials

/// A stored refresh token. Only its hash is kept. Tokens rotate: each use spends the token
/// and issues a new one in the same family; presenting a spent token again means it was
/// stolen (or replayed), and the whole family is revoked.
public struct RefreshToken: Sendable, Equatable {
    public typealias ID = Identifier<RefreshToken>
    public typealias Family = Identifier<RefreshTokenFamilyTag>

    public let id: ID
    public let userID: User.ID
    public let family: Family
    public let tokenHash: String
    public let createdAt: Date
    public let expiresAt: Date
    public var usedAt: Date?
    public var revokedAt: Date?

    public init(id: ID, userID: User.ID, family: Family, tokenHash: String, createdAt: Date, expiresAt: Date,
                usedAt: Date? = nil, revokedAt: Date? = nil) {
        self.id = id
        self.userID = userID
        self.family = family
        self.tokenHash = tokenHash
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.usedAt = usedAt
        self.revokedAt = revokedAt
    }
}

/// Tags the identifier of a token family.
public enum RefreshTokenFamilyTag {}
