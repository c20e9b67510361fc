/// Creates an account with e-mail and password and signs it in.
public struct Register: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(email rawEmail: String, password: String) async throws -> AuthTokens {
        try deps.requireRegistrationOpen()
        let user = try await CreateUser(deps)(email: rawEmail, password: password, role: .user)
        return try await deps.issueTokens(for: user)
    }
}

/// Creates an account without signing it in (used by registration and `parley user create`).
public struct CreateUser: Sendable {
    let deps: AuthDependencies

    public init(_ deps: AuthDependencies) {
        self.deps = deps
    }

    public func callAsFunction(email rawEmail: String, password: String, role: Role) async throws -> User {
        let email = try Self.validEmail(rawEmail, password: password)
        let hash = try await deps.hasher.hash(password)
        let user = User(
            id: User.ID(deps.ids.newUUID()), email: email, passwordHash: hash, role: role, createdAt: deps.clock.now()
        )
        try await deps.users.create(user)
        return user
    }
}

extension CreateUser {
    /// The e-mail of a new account's credentials, both checked so one answer names every problem.
    static func validEmail(_ rawEmail: String, password: String) throws(DomainError) -> EmailAddress {
        var problems: [FieldError] = []
        var email: EmailAddress?
        do { email = try EmailAddress(rawEmail) } catch { if case .validation(let e) = error { problems += e } }
        do { try PasswordPolicy.validate(password) } catch { if case .validation(let e) = error { problems += e } }
        guard problems.isEmpty, let email else { throw .validation(problems) }
        return email
    }
}
