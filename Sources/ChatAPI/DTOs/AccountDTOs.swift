import ChatCore
import FoundationEssentials

struct CredentialsBody: Decodable {
    let email: String
    let password: String
}

struct RefreshBody: Decodable {
    let refreshToken: String
}

/// `POST /v1/auth/refresh` and `/v1/auth/logout`: the token in the body, or none when it is
/// in the refresh cookie.
struct OptionalRefreshBody: Decodable {
    let refreshToken: String?
}

struct ChangePasswordBody: Decodable {
    let currentPassword: String
    let newPassword: String
}

struct NewPasswordBody: Decodable {
    let password: String
}

struct DeleteAccountBody: Decodable {
    let password: String?
}

struct UpdateUserBody: Decodable {
    let role: String?
    let active: Bool?
}

struct CreateAPIKeyBody: Decodable {
    let name: String
    let expiresInDays: Int?
}

/// A user as the API shows it.
struct UserDTO: Encodable {
    let id: String
    /// null for guests.
    @Nullable var email: String?
    let role: String
    let active: Bool
    let createdAt: Date
    /// null until they happen.
    @Nullable var lastLoginAt: Date?
    @Nullable var expiresAt: Date?

    init(_ user: User) {
        id = user.id.description
        email = user.email?.value
        role = user.role.rawValue
        active = user.isActive
        createdAt = user.createdAt
        lastLoginAt = user.lastLoginAt
        expiresAt = user.expiresAt
    }
}

struct AuthTokensDTO: Encodable {
    let accessToken: String
    /// Left out when it travels in the refresh cookie instead, out of the page's reach.
    let refreshToken: String?
    let tokenType = "Bearer"
    let expiresIn: Int
    let user: UserDTO

    init(_ session: AuthTokens, refreshTokenInBody: Bool = true) {
        accessToken = session.accessToken
        refreshToken = refreshTokenInBody ? session.refreshToken : nil
        expiresIn = session.expiresIn
        user = UserDTO(session.user)
    }
}

struct APIKeyDTO: Encodable {
    let id: String
    let name: String
    let prefix: String
    let createdAt: Date
    let lastUsedAt: Date?
    let expiresAt: Date?
    let revokedAt: Date?

    init(_ key: APIKey) {
        id = key.id.description
        name = key.name
        prefix = key.prefix
        createdAt = key.createdAt
        lastUsedAt = key.lastUsedAt
        expiresAt = key.expiresAt
        revokedAt = key.revokedAt
    }
}

/// The answer to creating a key: the only time the key itself is shown.
struct CreatedAPIKeyDTO: Encodable {
    let id: String
    let name: String
    let prefix: String
    let key: String
    let createdAt: Date
    let expiresAt: Date?
}

struct ListDTO<Item: Encodable>: Encodable {
    let items: [Item]
    /// null on the last page.
    @Nullable var nextCursor: String?
}
