public import ChatCore
public import FoundationEssentials
import Synchronization

/// A clock that moves only when told to.
public final class ManualClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    public func advance(_ duration: Duration) { current.withLock { $0 = $0.adding(duration) } }
}

/// A password hasher with no cost, for use-case tests (the real argon2id one is tested in Security).
public struct PlainPasswordHasher: PasswordHasher {
    public init() {}
    public func hash(_ password: String) async throws -> String { "plain$" + password }
    public func verify(_ password: String, against hash: String) async throws -> Bool { hash == "plain$" + password }
}

/// Secrets from a counter, digests by prefixing: predictable, and never equal to their input.
public final class CountingSecretGenerator: SecretGenerator {
    private let counter = Mutex(0)

    public init() {}

    public func newSecret(prefix: String) -> String {
        prefix + "secret" + String(counter.withLock { $0 += 1; return $0 })
    }

    public func digest(_ secret: String) -> String { "digest:" + secret }
}

/// Access tokens as readable text (`at|user|role|expiry`), with the same checks as the JWT issuer.
public struct ReadableTokenIssuer: AccessTokenIssuer {
    public let lifetime: Duration = .seconds(900)

    public init() {}

    public func issue(for user: User, now: Date) throws -> String {
        "at|\(user.id)|\(user.role.rawValue)|\(Int(now.adding(lifetime).timeIntervalSince1970))"
    }

    public func verify(_ token: String, now: Date) throws -> AccessClaims {
        let parts = token.split(separator: "|").map(String.init)
        guard parts.count == 4, parts[0] == "at", let id = User.ID(parts[1]), let role = Role(rawValue: parts[2]),
              let expiry = Double(parts[3])
        else { throw DomainError.unauthenticated("the access token is malformed") }
        let expiresAt = Date(timeIntervalSince1970: expiry)
        guard expiresAt > now else { throw DomainError.unauthenticated("the access token has expired") }
        return AccessClaims(userID: id, role: role, expiresAt: expiresAt)
    }
}

extension AuthDependencies {
    /// Dependencies on in-memory fakes, for tests of use cases and handlers.
    public static func inMemory(clock: ManualClock = ManualClock()) -> AuthDependencies {
        AuthDependencies(
            users: InMemoryUserRepository(), refreshTokens: InMemoryRefreshTokenRepository(),
            apiKeys: InMemoryAPIKeyRepository(), hasher: PlainPasswordHasher(), accessTokens: ReadableTokenIssuer(),
            secrets: CountingSecretGenerator(), clock: clock, decoyPasswordHash: "plain$\u{0}decoy"
        )
    }
}
