public import HTTPServer

/// Cross-origin access for browser frontends on other origins (`CORS_ORIGINS`): preflights
/// from an allowed origin get the methods and headers the API uses; answers to an allowed
/// origin say so and expose the headers a client needs to read. Credentials travel in the
/// `Authorization` header, never in cookies, so no `Allow-Credentials`.
public struct CORS: Middleware {
    public enum Origins: Sendable, Equatable {
        case any
        case list(Set<String>)
    }

    let origins: Origins
    static let methods = "GET, POST, PATCH, DELETE"
    static let allowedHeaders = "Authorization, Content-Type, Accept, Idempotency-Key, Last-Event-ID, X-Request-ID"
    static let exposedHeaders = "X-Request-ID, X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After, Content-Disposition"

    public init(origins: Origins) {
        self.origins = origins
    }

    func allows(_ origin: String) -> Bool {
        switch origins {
        case .any: true
        case .list(let list): list.contains(origin)
        }
    }

    public func handle(_ request: Request, next: Next) async throws -> Response {
        guard let origin = request.headers["Origin"] else { return try await next(request) }
        if request.method == .options, request.headers["Access-Control-Request-Method"] != nil {
            guard allows(origin) else {
                return .problem(.forbidden, detail: "cross-origin requests from \(origin) are not allowed")
            }
            var response = Response(status: .noContent)
            response.headers.add("Access-Control-Allow-Origin", origin)
            response.headers.add("Access-Control-Allow-Methods", Self.methods)
            response.headers.add("Access-Control-Allow-Headers", Self.allowedHeaders)
            response.headers.add("Access-Control-Max-Age", "600")
            response.headers.add("Vary", "Origin")
            return response
        }
        var response = try await next(request)
        if allows(origin) {
            response.headers.set("Access-Control-Allow-Origin", origin)
            response.headers.set("Access-Control-Expose-Headers", Self.exposedHeaders)
        }
        response.headers.add("Vary", "Origin")
        return response
    }
}
