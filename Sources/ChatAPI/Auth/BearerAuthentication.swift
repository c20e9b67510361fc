public import ChatCore
public import HTTPServer

/// Finds who is calling from `Authorization: Bearer …` (an access token or an API key).
public struct BearerAuthentication: Sendable {
    let authenticate: Authenticate

    public init(_ deps: AuthDependencies) {
        authenticate = Authenticate(deps)
    }

    public func principal(for request: Request) async throws -> Principal {
        guard let header = request.headers["Authorization"] else {
            throw ErrorMapping.unauthorized("unauthenticated", "an Authorization: Bearer header is required")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", !parts[1].isEmpty else {
            throw ErrorMapping.unauthorized("unauthenticated", "the Authorization header must be \"Bearer <token>\"", bearerError: "invalid_request")
        }
        return try await authenticate(bearer: String(parts[1]))
    }
}

/// A handler that runs only for an authenticated caller: it is handed the `Principal`, so it
/// cannot have forgotten to ask for one.
public typealias AuthenticatedHandler = @Sendable (Request, Principal) async throws -> Response

extension RouterBuilder {
    /// Registers a route whose handler gets the caller found by `auth` (401 without one), under
    /// `limit` if the route declares one (counted after authentication: limits are per user).
    public mutating func on(_ method: HTTPMethod, _ pattern: String, bodyLimit: Int? = nil, auth: BearerAuthentication,
                            limit: RoutePolicy? = nil, _ handler: @escaping AuthenticatedHandler) {
        if let limit {
            on(method, pattern, bodyLimit: bodyLimit) { request in
                let principal = try await auth.principal(for: request)
                return try await limit.guarded(request, principal) { try await handler(request, principal) }
            }
        } else {
            on(method, pattern, bodyLimit: bodyLimit) { request in try await handler(request, try await auth.principal(for: request)) }
        }
    }

    /// Registers a route open to anyone, under `limit` if it declares one.
    public mutating func on(_ method: HTTPMethod, _ pattern: String, bodyLimit: Int? = nil, limit: RoutePolicy?,
                            _ handler: @escaping RouteHandler) {
        guard let limit else { return on(method, pattern, bodyLimit: bodyLimit, handler) }
        on(method, pattern, bodyLimit: bodyLimit) { request in try await limit.guarded(request, nil) { try await handler(request) } }
    }

    public mutating func post(_ pattern: String, bodyLimit: Int? = nil, limit: RoutePolicy?, _ handler: @escaping RouteHandler) {
        on(.post, pattern, bodyLimit: bodyLimit, limit: limit, handler)
    }

    public mutating func get(_ pattern: String, auth: BearerAuthentication, _ handler: @escaping AuthenticatedHandler) {
        on(.get, pattern, auth: auth, handler)
    }

    public mutating func post(_ pattern: String, bodyLimit: Int? = nil, auth: BearerAuthentication, limit: RoutePolicy? = nil,
                              _ handler: @escaping AuthenticatedHandler) {
        on(.post, pattern, bodyLimit: bodyLimit, auth: auth, limit: limit, handler)
    }

    public mutating func patch(_ pattern: String, bodyLimit: Int? = nil, auth: BearerAuthentication, _ handler: @escaping AuthenticatedHandler) {
        on(.patch, pattern, bodyLimit: bodyLimit, auth: auth, handler)
    }

    public mutating func delete(_ pattern: String, auth: BearerAuthentication, _ handler: @escaping AuthenticatedHandler) {
        on(.delete, pattern, auth: auth, handler)
    }
}
