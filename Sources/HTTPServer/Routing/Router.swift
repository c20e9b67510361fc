import Logging

/// An immutable route table with its middleware chain: the `HTTPResponder` applications hand the server.
///
/// Routes are matched by segment count, then by specificity (literal segments win over
/// parameters), so `/v1/sessions/search` is found before `/v1/sessions/{id}`. The match
/// happens before the middleware runs, so middleware sees `request.route` (for logs and
/// metrics by route) and the path parameters; the route's handler runs innermost.
public struct Router: HTTPResponder {
    private let routesBySegmentCount: [Int: [PatternRoutes]]

    /// The routes of one pattern, one per method: a path is matched against each pattern once.
    private struct PatternRoutes: Sendable {
        let pattern: RoutePattern
        var routes: [RouterBuilder.Route]
    }
    private let chain: Next
    public let defaultBodyLimit: Int

    /// What a request's method and path found in the table.
    private enum Resolution {
        case route(RouterBuilder.Route, PathParameters)
        case badEncoding(String)
        case methodNotAllowed(Set<HTTPMethod>)
        case notFound
    }

    init(routes: [RouterBuilder.Route], middleware: [any Middleware], defaultBodyLimit: Int,
         errorRenderer: (@Sendable (any Error) -> Response?)?, logger: Logger?) {
        var table: [Int: [PatternRoutes]] = [:]
        for route in routes {
            var group = table[route.pattern.segments.count, default: []]
            if let index = group.firstIndex(where: { $0.pattern == route.pattern }) {
                group[index].routes.append(route)
            } else {
                group.append(PatternRoutes(pattern: route.pattern, routes: [route]))
            }
            table[route.pattern.segments.count] = group
        }
        for key in table.keys {
            table[key]?.sort { $0.pattern.specificity > $1.pattern.specificity }
        }
        routesBySegmentCount = table
        self.defaultBodyLimit = defaultBodyLimit

        let logger = logger ?? Logger(label: "parley.http.router")
        let dispatch: @Sendable (Request) async throws -> Response = { [table] request in
            var request = request
            if request.handler == nil {
                // Matched in `respond` unless a middleware made a new request.
                let resolution = Router.resolve(method: request.method, path: request.path, table: table)
                guard case .route(let route, let parameters) = resolution else { return Router.unrouted(request, resolution) }
                request.parameters = parameters
                request.handler = route.handler
            }
            do {
                return try await request.handler?(request) ?? Router.unrouted(request, .notFound)
            } catch {
                // Rendered here, innermost, so every middleware sees the status it becomes.
                return errorRenderer?(error) ?? Router.render(error, logger: logger)
            }
        }
        var next = Next(run: dispatch)
        for layer in middleware.reversed() {
            let inner = next
            next = Next { request in try await layer.handle(request, next: inner) }
        }
        chain = next
        self.logger = logger
        self.errorRenderer = errorRenderer
    }

    private let logger: Logger
    private let errorRenderer: (@Sendable (any Error) -> Response?)?

    public func bodyLimit(for head: RequestHead) -> Int {
        let (path, _) = Request.split(target: head.target)
        if case .route(let route, _) = Router.resolve(method: head.method, path: path, table: routesBySegmentCount) {
            return route.bodyLimit ?? defaultBodyLimit
        }
        // No route will read it: answer (404 or 405) without receiving it.
        return 0
    }

    public func respond(to request: Request) async -> Response {
        var request = request
        if case .route(let route, let parameters) = Router.resolve(method: request.method, path: request.path, table: routesBySegmentCount) {
            request.route = route.pattern.description
            request.parameters = parameters
            request.handler = route.handler
        }
        do {
            return try await chain(request)
        } catch {
            return errorRenderer?(error) ?? Router.render(error, logger: logger)
        }
    }

    /// The path's segments after its first `/`, cut on the bytes (a `/` is never inside a
    /// character, and splitting the `String` itself walks it by grapheme).
    private static func segments(of path: String) -> [Substring] {
        let utf8 = path.utf8
        var segments: [Substring] = []
        var start: String.Index?
        var index = utf8.startIndex
        while index != utf8.endIndex {
            if utf8[index] == UInt8(ascii: "/") {
                if let start { segments.append(path[start..<index]) }
                start = utf8.index(after: index)
            }
            index = utf8.index(after: index)
        }
        if let start { segments.append(path[start..<utf8.endIndex]) }
        return segments
    }

    /// The most specific pattern that matches the path decides: its route for the method, or
    /// 405 with its methods. A less specific pattern is not tried for a method the more
    /// specific one lacks (`PATCH /v1/sessions/import` is 405, not a session named "import").
    private static func resolve(method: HTTPMethod, path: String, table: [Int: [PatternRoutes]]) -> Resolution {
        let segments = segments(of: path)
        let method = method == .head ? .get : method
        for group in table[segments.count] ?? [] {
            switch group.pattern.match(segments) {
            case .no:
                continue
            case .badEncoding(let name):
                return .badEncoding(name)
            case .yes(let parameters):
                guard let route = group.routes.first(where: { $0.method == method }) else {
                    return .methodNotAllowed(Set(group.routes.map(\.method)))
                }
                return .route(route, parameters)
            }
        }
        return .notFound
    }

    /// The answer to a request no route handles: why not.
    private static func unrouted(_ request: Request, _ resolution: Resolution) -> Response {
        switch resolution {
        case .route, .notFound:
            return .problem(.notFound, detail: "no route matches \(request.path)")
        case .badEncoding(let name):
            return .problem(.badRequest, detail: "path parameter \(name) is not valid percent-encoded UTF-8")
        case .methodNotAllowed(var allowed):
            if allowed.contains(.get) { allowed.insert(.head) }
            let list = allowed.map(\.rawValue).sorted().joined(separator: ", ")
            return .problem(
                .methodNotAllowed, detail: "\(request.method.rawValue) is not allowed on \(request.path); allowed: \(list)",
                extraHeaders: HTTPFields([("Allow", list)])
            )
        }
    }

    private static func render(_ error: any Error, logger: Logger) -> Response {
        if let known = error as? any HTTPResponseError { return known.response }
        logger.error("unhandled error in handler", metadata: ["parley.error.type": "\(type(of: error))", "parley.error": "\(String(reflecting: error))"])
        return .problem(.internalServerError, detail: "the server could not complete the request")
    }
}
