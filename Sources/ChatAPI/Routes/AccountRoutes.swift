public import ChatCore
public import HTTPServer
public import Logging

/// `/v1/auth/*`, `/v1/users/me`, `/v1/admin/users`, `/v1/api-keys`.
public enum AccountRoutes {
    /// Small bodies only: credentials and names. A larger body is refused before it is read.
    static let bodyLimit = 16 * 1024

    /// Register, login and guest are limited per client address (`limits.authAttempts`); API
    /// key creation per user (`limits.writes`).
    public static func register(on router: inout RouterBuilder, deps: AuthDependencies, limits: RouteLimits, cookie: RefreshCookie, logger: Logger) {
        router.renderErrors(logger)
        let auth = BearerAuthentication(deps)
        /// Tokens as the client asked for them: the refresh token in the body, or in the cookie.
        @Sendable func tokens(_ session: AuthTokens, inCookie: Bool, for request: Request, status: HTTPStatus = .ok) -> Response {
            var response = JSONBody.response(AuthTokensDTO(session, refreshTokenInBody: !inCookie), status: status)
            if inCookie { cookie.set(session.refreshToken, for: request, on: &response) }
            return response
        }
        /// The refresh token from the body, else from the cookie; a 422 naming the field without either.
        @Sendable func refreshToken(of request: Request) throws -> String {
            if !request.body.isEmpty {
                // A body speaks for itself: it must hold the token.
                guard let token = try JSONBody.decode(OptionalRefreshBody.self, from: request).refreshToken else {
                    throw JSONBody.validation("refresh_token", "is required")
                }
                return token
            }
            guard let token = cookie.token(in: request) else { throw JSONBody.validation("refresh_token", "is required (in the body, or the refresh cookie)") }
            return token
        }

        router.post("/v1/auth/register", bodyLimit: bodyLimit, limit: limits.authAttempts) { request in
            let inCookie = try cookie.wanted(by: request)
            let body = try JSONBody.decode(CredentialsBody.self, from: request)
            let session = try await Register(deps)(email: body.email, password: body.password)
            logger.info("account registered", metadata: ["parley.user.id": "\(session.user.id)", "audit": "true"])
            return tokens(session, inCookie: inCookie, for: request, status: .created)
        }
        router.post("/v1/auth/login", bodyLimit: bodyLimit, limit: limits.authAttempts) { request in
            let inCookie = try cookie.wanted(by: request)
            let body = try JSONBody.decode(CredentialsBody.self, from: request)
            do {
                let session = try await LogIn(deps)(email: body.email, password: body.password)
                logger.info("login", metadata: ["parley.user.id": "\(session.user.id)", "audit": "true"])
                return tokens(session, inCookie: inCookie, for: request)
            } catch let error as DomainError {
                // The account tried, beside the client address every line of a request carries.
                logger.info("failed login", metadata: [
                    "parley.reason": "\(error)", "parley.account": "\(body.email.lowercased().prefix(254))", "audit": "true",
                ])
                throw error
            }
        }
        router.post("/v1/auth/guest", bodyLimit: bodyLimit, limit: limits.guestCreations) { request in
            let inCookie = try cookie.wanted(by: request)
            return tokens(try await SignInAsGuest(deps)(), inCookie: inCookie, for: request, status: .created)
        }
        router.post("/v1/auth/upgrade", bodyLimit: bodyLimit, auth: auth, limit: limits.authAttempts) { request, principal in
            let inCookie = try cookie.wanted(by: request)
            let body = try JSONBody.decode(CredentialsBody.self, from: request)
            let session = try await UpgradeGuest(deps)(principal, email: body.email, password: body.password)
            logger.info("guest upgraded to an account", metadata: ["parley.user.id": "\(principal.user.id)", "audit": "true"])
            return tokens(session, inCookie: inCookie, for: request)
        }
        router.post("/v1/auth/refresh", bodyLimit: bodyLimit) { request in
            let inCookie = try cookie.wanted(by: request)
            let token = try refreshToken(of: request)
            do {
                return tokens(try await RefreshTokens(deps)(refreshToken: token), inCookie: inCookie, for: request)
            } catch DomainError.refreshTokenReused {
                logger.warning("refresh token reused; family revoked", metadata: ["audit": "true"])
                throw DomainError.refreshTokenReused
            }
        }
        router.post("/v1/auth/logout", bodyLimit: bodyLimit, auth: auth) { request, principal in
            try await LogOut(deps)(principal, refreshToken: try refreshToken(of: request))
            logger.info("logout", metadata: ["parley.user.id": "\(principal.user.id)", "audit": "true"])
            var response = Response(status: .noContent)
            if cookie.token(in: request) != nil { cookie.set(nil, for: request, on: &response) }
            return response
        }
        router.get("/v1/users/me", auth: auth) { _, principal in
            JSONBody.response(UserDTO(principal.user))
        }
        router.post("/v1/users/me/password", bodyLimit: bodyLimit, auth: auth) { request, principal in
            let inCookie = try cookie.wanted(by: request)
            let body = try JSONBody.decode(ChangePasswordBody.self, from: request)
            let session = try await ChangePassword(deps)(principal, current: body.currentPassword, new: body.newPassword)
            logger.info("password changed; every refresh token ended", metadata: ["parley.user.id": "\(principal.user.id)", "audit": "true"])
            return tokens(session, inCookie: inCookie, for: request)
        }
        router.on(.delete, "/v1/users/me", bodyLimit: bodyLimit, auth: auth) { request, principal in
            let body = request.body.isEmpty ? DeleteAccountBody(password: nil) : try JSONBody.decode(DeleteAccountBody.self, from: request)
            try await DeleteAccount(deps)(principal, password: body.password)
            logger.notice("account deleted with its data", metadata: ["parley.user.id": "\(principal.user.id)", "audit": "true"])
            var response = Response(status: .noContent)
            if cookie.token(in: request) != nil { cookie.set(nil, for: request, on: &response) }
            return response
        }

        router.get("/v1/admin/users", auth: auth) { request, principal in
            let limit = try request.queryInteger("limit", default: 20, range: 1...100)
            let email = request.queryItems["email"]
            if let email, email.count > 254 { throw JSONBody.validation("email", "must be at most 254 characters") }
            let page = try await ListUsers(deps)(principal, emailContaining: email, limit: limit, cursor: request.cursor)
            return JSONBody.response(ListDTO(items: page.items.map(UserDTO.init), nextCursor: page.nextCursor))
        }
        router.patch("/v1/admin/users/{id}", bodyLimit: bodyLimit, auth: auth) { request, principal in
            let id: User.ID = try request.identifier("id", of: "user")
            let body = try JSONBody.decode(UpdateUserBody.self, from: request)
            var role: Role?
            if let text = body.role {
                guard let parsed = Role(rawValue: text) else { throw JSONBody.validation("role", "must be admin, user or guest") }
                role = parsed
            }
            let user = try await UpdateUser(deps)(principal, id: id, role: role, isActive: body.active)
            logger.info("admin changed user", metadata: [
                "parley.user.id": "\(principal.user.id)", "parley.target.id": "\(id)",
                "parley.role": "\(body.role ?? "-")", "parley.active": "\(body.active.map(String.init) ?? "-")", "audit": "true",
            ])
            return JSONBody.response(UserDTO(user))
        }

        router.post("/v1/admin/users/{id}/password", bodyLimit: bodyLimit, auth: auth) { request, principal in
            let id: User.ID = try request.identifier("id", of: "user")
            let body = try JSONBody.decode(NewPasswordBody.self, from: request)
            try await ResetPassword(deps)(principal, id: id, password: body.password)
            logger.notice("admin set a user's password; the user's sign-ins ended", metadata: [
                "parley.user.id": "\(principal.user.id)", "parley.target.id": "\(id)", "audit": "true",
            ])
            return Response(status: .noContent)
        }

        router.get("/v1/api-keys", auth: auth) { request, principal in
            return JSONBody.response(ListDTO(items: try await ListAPIKeys(deps)(principal).map(APIKeyDTO.init), nextCursor: nil))
        }
        router.post("/v1/api-keys", bodyLimit: bodyLimit, auth: auth, limit: limits.writes) { request, principal in
            let body = try JSONBody.decode(CreateAPIKeyBody.self, from: request)
            let (secret, key) = try await CreateAPIKey(deps)(principal, name: body.name, expiresInDays: body.expiresInDays)
            return JSONBody.response(
                CreatedAPIKeyDTO(id: key.id.description, name: key.name, prefix: key.prefix, key: secret,
                                 createdAt: key.createdAt, expiresAt: key.expiresAt),
                status: .created
            )
        }
        router.delete("/v1/api-keys/{id}", auth: auth) { request, principal in
            try await RevokeAPIKey(deps)(principal, id: try request.identifier("id", of: "API key"))
            return Response(status: .noContent)
        }
    }
}
