public import ChatCore
public import FoundationEssentials
import Synchronization

/// Access tokens as JWTs signed with HMAC-SHA256 (RFC 7519, RFC 7515).
///
/// Only HS256 is accepted, whatever the token's header claims (`none`, `HS512` and every
/// other `alg` are refused), and the MAC is compared in constant time. Each key has an id
/// (`kid`, derived from the key) so `JWT_SECRET` can rotate while tokens signed with a key
/// in `JWT_PREVIOUS_SECRETS` still verify until they expire.
public struct JWTIssuer: AccessTokenIssuer {
    struct Key: Sendable {
        let id: String
        let secret: [UInt8]

        init(_ secret: [UInt8]) {
            self.secret = secret
            id = String(Crypto.hex(Crypto.sha256(secret)).prefix(12))
        }
    }

    private let current: Key
    private let previous: [Key]
    /// Tokens this issuer verified, so a client's next request with the same token costs a
    /// lookup instead of two JSON decodes and an HMAC (the keys never change for its lifetime).
    private let verified = VerifiedTokens()
    public let lifetime: Duration
    /// Clock skew tolerated on `exp`, `nbf` and `iat`.
    public let leeway: Duration

    public init(secret: [UInt8], previousSecrets: [[UInt8]] = [], lifetime: Duration = .seconds(900), leeway: Duration = .seconds(30)) {
        current = Key(secret)
        previous = previousSecrets.map(Key.init)
        self.lifetime = lifetime
        self.leeway = leeway
    }

    struct Header: Codable {
        let alg: String
        let typ: String?
        let kid: String?
    }

    struct Claims: Codable {
        let sub: String
        let role: String
        let iat: Int
        let nbf: Int
        let exp: Int
    }

    public func issue(for user: User, now: Date) throws -> String {
        let iat = Int(now.timeIntervalSince1970)
        let header = Header(alg: "HS256", typ: "JWT", kid: current.id)
        let claims = Claims(sub: user.id.description, role: user.role.rawValue, iat: iat, nbf: iat,
                            exp: iat + Int(lifetime.components.seconds))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let signingInput = Base64URL.encode(Array(try encoder.encode(header))) + "." + Base64URL.encode(Array(try encoder.encode(claims)))
        return signingInput + "." + Base64URL.encode(Crypto.hmacSHA256(key: current.secret, message: Array(signingInput.utf8)))
    }

    public func verify(_ token: String, now: Date) throws -> AccessClaims {
        let nowSeconds = Int(now.timeIntervalSince1970)
        let slack = Int(leeway.components.seconds)
        if let known = verified[token] {
            // The same bytes verified before; only the times are checked again.
            guard known.exp + slack > nowSeconds else { throw DomainError.unauthenticated("the access token has expired") }
            guard known.notBefore - slack <= nowSeconds else { throw DomainError.unauthenticated("the access token is not valid yet") }
            return known.claims
        }
        func fail(_ reason: String) -> DomainError { .unauthenticated(reason) }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(parts[0]), let claimBytes = Base64URL.decode(parts[1]),
              let signature = Base64URL.decode(parts[2])
        else { throw fail("the access token is malformed") }
        guard let header = try? JSONDecoder().decode(Header.self, from: Data(headerBytes)) else {
            throw fail("the access token is malformed")
        }
        guard header.alg == "HS256" else { throw fail("the access token's algorithm is not accepted") }
        guard let kid = header.kid, let key = ([current] + previous).first(where: { $0.id == kid }) else {
            throw fail("the access token was signed with an unknown key")
        }
        let signingInput = Array(token.utf8.prefix(parts[0].utf8.count + 1 + parts[1].utf8.count))
        guard Crypto.constantTimeEquals(Crypto.hmacSHA256(key: key.secret, message: signingInput), signature) else {
            throw fail("the access token's signature is not valid")
        }
        guard let claims = try? JSONDecoder().decode(Claims.self, from: Data(claimBytes)),
              let userID = User.ID(claims.sub), let role = Role(rawValue: claims.role)
        else { throw fail("the access token's claims are malformed") }
        guard claims.exp + slack > nowSeconds else { throw fail("the access token has expired") }
        guard claims.nbf - slack <= nowSeconds, claims.iat - slack <= nowSeconds else {
            throw fail("the access token is not valid yet")
        }
        let result = AccessClaims(userID: userID, role: role, expiresAt: Date(timeIntervalSince1970: Double(claims.exp)))
        verified.insert(token, VerifiedTokens.Entry(claims: result, exp: claims.exp, notBefore: max(claims.nbf, claims.iat)), now: nowSeconds - slack)
        return result
    }
}

/// Access tokens that verified, by their exact text, with their claims and times. At most
/// `capacity`: when full, the expired ones go, and if none has expired, all of them (each is
/// verified again on its next use). A token is never stored unless its signature checked.
final class VerifiedTokens: Sendable {
    struct Entry: Sendable {
        let claims: AccessClaims
        let exp: Int
        let notBefore: Int
    }

    static let capacity = 4096
    private let entries = Mutex<[String: Entry]>([:])

    subscript(token: String) -> Entry? { entries.withLock { $0[token] } }

    func insert(_ token: String, _ entry: Entry, now: Int) {
        entries.withLock { entries in
            if entries.count >= Self.capacity {
                entries = entries.filter { $0.value.exp > now }
                if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
            }
            entries[token] = entry
        }
    }
}
