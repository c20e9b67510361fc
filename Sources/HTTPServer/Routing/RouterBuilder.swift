public import Logging

/// A handler for one route.
public typealias RouteHandler = @Sendable (Request) async throws -> Response

/// Collects routes and middleware, then freezes them into an immutable `Router`.
/// Nothing can be registered once the server runs.
public struct RouterBuilder: Sendable {
    struct Route: Sendable {
        let method: HTTPMethod
        let pattern: RoutePattern
        let bodyLimit: Int?
        let handler: RouteHandler
    }

    var routes: [Route] = []
    var middleware: [any Middleware] = []
    /// Turns what a handler throws into its response: the application's one mapping of errors
    /// to statuses. Errors it does not know (nil) and errors without one get the router's
    /// own rendering: `HTTPResponseError`s render themselves, anything else is a 500 that
    /// reveals nothing.
    public var errorRenderer: (@Sendable (any Error) -> Response?)?

    public init() {}

    /// Registers a handler. `bodyLimit` overrides the router's default for this route; GET,
    /// HEAD, DELETE and OPTIONS routes take no body unless they say so (a body sent to them is
    /// not read: the request is answered and the connection closed).
    public mutating func on(_ method: HTTPMethod, _ pattern: String, bodyLimit: Int? = nil, _ handler: @escaping RouteHandler) {
        let compiled = RoutePattern(pattern)
        precondition(
            !routes.contains { $0.method == method && $0.pattern == compiled },
            "route \(method.rawValue) \(pattern) registered twice"
        )
        let takesNoBody: Set<HTTPMethod> = [.get, .head, .delete, .options]
        let limit = bodyLimit ?? (takesNoBody.contains(method) ? 0 : nil)
        routes.append(Route(method: method, pattern: compiled, bodyLimit: limit, handler: handler))
    }

    public mutating func get(_ pattern: String, _ handler: @escaping RouteHandler) { on(.get, pattern, handler) }
    public mutating func post(_ pattern: String, bodyLimit: Int? = nil, _ handler: @escaping RouteHandler) {
        on(.post, pattern, bodyLimit: bodyLimit, handler)
    }
    public mutating func put(_ pattern: String, bodyLimit: Int? = nil, _ handler: @escaping RouteHandler) {
        on(.put, pattern, bodyLimit: bodyLimit, handler)
    }
    public mutating func patch(_ pattern: String, bodyLimit: Int? = nil, _ handler: @escaping RouteHandler) {
        on(.patch, pattern, bodyLimit: bodyLimit, handler)
    }
    public mutating func delete(_ pattern: String, _ handler: @escaping RouteHandler) { on(.delete, pattern, handler) }

    /// Adds middleware; the first added is the outermost.
    public mutating func use(_ middleware: any Middleware) {
        self.middleware.append(middleware)
    }

    public func build(defaultBodyLimit: Int = 1 << 20, logger: Logger? = nil) -> Router {
        Router(routes: routes, middleware: middleware, defaultBodyLimit: defaultBodyLimit, errorRenderer: errorRenderer, logger: logger)
    }
}

