public import FoundationEssentials

public enum Role: String, Sendable, CaseIterable, Codable {
    case admin
    case user
    case guest
}

/// A person (or a guest) who can sign in.
public struct User: Sendable, Equatable {
    public typealias ID = Identifier<User>

    public let id: ID
    /// Nil for guests, who have no e-mail address.
    public var email: EmailAddress?
    /// The argon2id hash of the password; nil for guests.
    public var passwordHash: String?
    public var role: Role
    public var isActive: Bool
    public let createdAt: Date
    public var lastLoginAt: Date?
    /// When a guest account and its data may be removed; nil for registered users.
    public var expiresAt: Date?

    public init(
        id: ID, email: EmailAddress?, passwordHash: String?, role: Role, isActive: Bool = true,
        createdAt: Date, lastLoginAt: Date? = nil, expiresAt: Date? = nil
    ) {
        self.id = id
        self.email = email
        self.passwordHash = passwordHash
        self.role = role
        self.isActive = isActive
        self.createdAt = createdAt
        self.lastLoginAt = lastLoginAt
        self.expiresAt = expiresAt
    }
}
