import ChatCore
import ChatCoreTesting
import Testing

@Suite(.timeLimit(.minutes(5))) struct AccountUseCaseTests {
    let clock = ManualClock()
    var deps: AuthDependencies { AuthDependencies.inMemory(clock: clock) }

    @Test func registerThenLogInWithNormalisedEmail() async throws {
        let deps = self.deps
        let registered = try await Register(deps)(email: "  Ann@Example.ORG ", password: "correct horse")
        #expect(registered.user.email?.value == "ann@example.org")
        #expect(registered.user.role == .user)
        let session = try await LogIn(deps)(email: "ann@example.org", password: "correct horse")
        #expect(session.user.id == registered.user.id)
        #expect(try await Authenticate(deps)(bearer: session.accessToken).user.id == registered.user.id)
    }

    @Test func duplicateEmailIsTaken() async throws {
        let deps = self.deps
        _ = try await Register(deps)(email: "a@b.co", password: "12345678")
        await #expect(throws: DomainError.emailTaken) { try await Register(deps)(email: "A@B.co", password: "12345678") }
    }

    @Test(arguments: [("1234567", "password", "must be at least 8 characters"),
                      (String(repeating: "p", count: 129), "password", "must be at most 128 characters")])
    func passwordPolicy(_ password: String, _ field: String, _ message: String) async throws {
        await #expect(throws: DomainError.validation([FieldError(field, message)])) {
            try await Register(deps)(email: "a@b.co", password: password)
        }
    }

    @Test func passwordLengthCountsCharactersNotBytes() async throws {
        _ = try await Register(deps)(email: "a@b.co", password: "ééééééé€")  // 8 characters, 17 bytes
    }

    @Test func invalidEmailAndPasswordAreBothReported() async throws {
        await #expect(throws: DomainError.validation([FieldError("email", "is not a valid e-mail address"),
                                                      FieldError("password", "must be at least 8 characters")])) {
            try await Register(deps)(email: "not-an-email", password: "short")
        }
    }

    @Test func unknownEmailAndWrongPasswordAreTheSameError() async throws {
        let deps = self.deps
        _ = try await Register(deps)(email: "a@b.co", password: "12345678")
        await #expect(throws: DomainError.invalidCredentials) { try await LogIn(deps)(email: "nobody@b.co", password: "12345678") }
        await #expect(throws: DomainError.invalidCredentials) { try await LogIn(deps)(email: "a@b.co", password: "wrong-password") }
    }

    @Test func refreshRotatesAndReuseRevokesTheFamily() async throws {
        let deps = self.deps
        let first = try await Register(deps)(email: "a@b.co", password: "12345678")
        let second = try await RefreshTokens(deps)(refreshToken: first.refreshToken)
        #expect(second.refreshToken != first.refreshToken)
        let third = try await RefreshTokens(deps)(refreshToken: second.refreshToken)
        // The first token is replayed: reuse detected, and every token of the family dies.
        await #expect(throws: DomainError.refreshTokenReused) { try await RefreshTokens(deps)(refreshToken: first.refreshToken) }
        await #expect(throws: DomainError.unauthenticated("the refresh token is not valid")) {
            try await RefreshTokens(deps)(refreshToken: third.refreshToken)
        }
    }

    @Test func refreshTokenExpires() async throws {
        let deps = self.deps
        let session = try await Register(deps)(email: "a@b.co", password: "12345678")
        clock.advance(.seconds(30 * 24 * 3600 + 1))
        await #expect(throws: DomainError.unauthenticated("the refresh token is not valid")) {
            try await RefreshTokens(deps)(refreshToken: session.refreshToken)
        }
    }

    @Test func disabledUserIsRefusedEverywhere() async throws {
        let deps = self.deps
        let admin = try await CreateUser(deps)(email: "root@b.co", password: "12345678", role: .admin)
        let session = try await Register(deps)(email: "a@b.co", password: "12345678")
        _ = try await UpdateUser(deps)(Principal(user: admin, credential: .accessToken), id: session.user.id, role: nil, isActive: false)
        await #expect(throws: DomainError.accountDisabled) { try await Authenticate(deps)(bearer: session.accessToken) }
        await #expect(throws: DomainError.accountDisabled) { try await LogIn(deps)(email: "a@b.co", password: "12345678") }
        await #expect(throws: DomainError.accountDisabled) { try await RefreshTokens(deps)(refreshToken: session.refreshToken) }
    }

    @Test func lastAdminCannotBeDemotedOrDisabled() async throws {
        let deps = self.deps
        let admin = try await CreateUser(deps)(email: "root@b.co", password: "12345678", role: .admin)
        let principal = Principal(user: admin, credential: .accessToken)
        await #expect(throws: DomainError.lastAdmin) { try await UpdateUser(deps)(principal, id: admin.id, role: .user, isActive: nil) }
        await #expect(throws: DomainError.lastAdmin) { try await UpdateUser(deps)(principal, id: admin.id, role: nil, isActive: false) }
        let other = try await CreateUser(deps)(email: "two@b.co", password: "12345678", role: .admin)
        _ = try await UpdateUser(deps)(principal, id: other.id, role: .user, isActive: nil)
        #expect(try await deps.users.countActiveAdmins() == 1)
    }

    @Test func onlyAdminsManageUsers() async throws {
        let deps = self.deps
        let user = try await Register(deps)(email: "a@b.co", password: "12345678").user
        let principal = Principal(user: user, credential: .accessToken)
        await #expect(throws: DomainError.forbidden("only admins can list users")) { try await ListUsers(deps)(principal, limit: 10, cursor: nil) }
    }

    @Test func guestExpiresAndIsCleanedUp() async throws {
        let deps = self.deps
        let guest = try await SignInAsGuest(deps)()
        #expect(guest.user.role == .guest)
        #expect(try await Authenticate(deps)(bearer: guest.accessToken).user.role == .guest)
        clock.advance(.seconds(24 * 3600 + 1))
        await #expect(throws: DomainError.self) { try await RefreshTokens(deps)(refreshToken: guest.refreshToken) }
        #expect(try await deps.users.deleteExpiredGuests(now: clock.now()) == 1)
    }

    @Test func apiKeyWorksUntilRevokedOrExpired() async throws {
        let deps = self.deps
        let user = try await Register(deps)(email: "a@b.co", password: "12345678").user
        let principal = Principal(user: user, credential: .accessToken)
        let (secret, key) = try await CreateAPIKey(deps)(principal, name: " scripts ", expiresInDays: 1)
        #expect(secret.hasPrefix("pk_"))
        #expect(key.name == "scripts")
        #expect(try await Authenticate(deps)(bearer: secret).credential == .apiKey(key.id))
        clock.advance(.seconds(86_401))
        await #expect(throws: DomainError.unauthenticated("the API key has expired")) { try await Authenticate(deps)(bearer: secret) }
        let (second, secondKey) = try await CreateAPIKey(deps)(principal, name: "b", expiresInDays: nil)
        try await RevokeAPIKey(deps)(principal, id: secondKey.id)
        await #expect(throws: DomainError.unauthenticated("the API key was revoked")) { try await Authenticate(deps)(bearer: second) }
    }

    @Test func anotherUsersKeyIsNotFound() async throws {
        let deps = self.deps
        let ann = Principal(user: try await Register(deps)(email: "a@b.co", password: "12345678").user, credential: .accessToken)
        let bob = Principal(user: try await Register(deps)(email: "b@b.co", password: "12345678").user, credential: .accessToken)
        let (_, key) = try await CreateAPIKey(deps)(ann, name: "mine", expiresInDays: nil)
        await #expect(throws: DomainError.notFound("API key")) { try await RevokeAPIKey(deps)(bob, id: key.id) }
    }

    @Test func logoutNeedsTheCallersOwnRefreshToken() async throws {
        let deps = self.deps
        let ann = try await Register(deps)(email: "a@b.co", password: "12345678")
        let bob = try await Register(deps)(email: "b@b.co", password: "12345678")
        let bobPrincipal = Principal(user: bob.user, credential: .accessToken)
        await #expect(throws: DomainError.unauthenticated("the refresh token is not valid")) {
            try await LogOut(deps)(bobPrincipal, refreshToken: ann.refreshToken)
        }
        try await LogOut(deps)(bobPrincipal, refreshToken: bob.refreshToken)
        await #expect(throws: DomainError.self) { try await RefreshTokens(deps)(refreshToken: bob.refreshToken) }
        _ = try await RefreshTokens(deps)(refreshToken: ann.refreshToken)
    }
}

/// Counts verifications, to show that every login attempt costs one, whatever the e-mail.
actor CountingHasher: PasswordHasher {
    private(set) var verifications = 0
    func hash(_ password: String) async throws -> String { "plain$" + password }
    func verify(_ password: String, against hash: String) async throws -> Bool {
        verifications += 1
        return hash == "plain$" + password
    }
}

@Suite(.timeLimit(.minutes(5))) struct LoginTimingTests {
    @Test func unknownEmailCostsTheSameVerificationAsAWrongPassword() async throws {
        let hasher = CountingHasher()
        let base = AuthDependencies.inMemory()
        let deps = AuthDependencies(users: base.users, refreshTokens: base.refreshTokens, apiKeys: base.apiKeys, hasher: hasher,
                                    accessTokens: base.accessTokens, secrets: base.secrets, clock: base.clock,
                                    decoyPasswordHash: "plain$\u{0}decoy")
        _ = try await Register(deps)(email: "a@b.co", password: "12345678")
        for email in ["a@b.co", "nobody@b.co", "not an email", "a@b.co"] {
            let before = await hasher.verifications
            _ = try? await LogIn(deps)(email: email, password: "wrong password")
            #expect(await hasher.verifications == before + 1, "\(email)")
        }
        // Even the decoy's password cannot sign in to an unknown account.
        await #expect(throws: DomainError.invalidCredentials) { try await LogIn(deps)(email: "nobody@b.co", password: "\u{0}decoy") }
    }
}

@Suite(.timeLimit(.minutes(5))) struct LoginRaceTests {
    /// A sign-in must not write back a stale copy of the user: an admin's change made while
    /// the password was being checked stays.
    @Test func loginDoesNotUndoAConcurrentDisable() async throws {
        let deps = AuthDependencies.inMemory()
        let user = try await Register(deps)(email: "a@b.co", password: "12345678").user
        let login = Task { try await LogIn(deps)(email: "a@b.co", password: "12345678") }
        var disabled = user
        disabled.isActive = false
        try await deps.users.update(disabled)
        _ = try? await login.value
        #expect(try await deps.users.find(id: user.id)?.isActive == false)
    }
}
