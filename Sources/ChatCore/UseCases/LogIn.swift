/// Signs in with e-mail and password.
///
/// An unknown e-mail and a wrong password give the same error after the same work (a decoy
/// hash is checked), so neither the answer nor its timing reveals which accounts exist.
public struct LogIn: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(email rawEmail: String, password: String) async throws -> AuthTokens {
        let now = deps.clock.now()
        let suspect = try await deps.loginThrottle?.admit(rawEmail, now: now) ?? false
        do {
            return try await signIn(rawEmail, password, suspect: suspect)
        } catch DomainError.invalidCredentials {
            await deps.loginThrottle?.recordFailure(rawEmail, now: now)
            throw DomainError.invalidCredentials
        }
    }

    private func signIn(_ rawEmail: String, _ password: String, suspect: Bool) async throws -> AuthTokens {
        let email = try? EmailAddress(rawEmail)
        let user = try await email.asyncFlatMap { try await deps.users.find(email: $0) }
        guard let user, let hash = user.passwordHash, password.count <= PasswordPolicy.maximumLength else {
            _ = try await deps.hasher.verify(password, against: deps.decoyPasswordHash, suspect: suspect)
            throw DomainError.invalidCredentials
        }
        guard try await deps.hasher.verify(password, against: hash, suspect: suspect) else { throw DomainError.invalidCredentials }
        guard user.isActive else { throw DomainError.accountDisabled }
        try await deps.users.recordLogin(id: user.id, at: deps.clock.now())
        var signedIn = user
        signedIn.lastLoginAt = deps.clock.now()
        return try await deps.issueTokens(for: signedIn)
    }
}

extension Optional {
    func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
