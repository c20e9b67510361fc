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
