/// The next step of a request's handling: the following middleware, or the route's handler.
public struct Next: Sendable {
    let run: @Sendable (Request) async throws -> Response

    public func callAsFunction(_ request: Request) async throws -> Response {
        try await run(request)
    }
}

/// Code that runs around every request: it may read or change the request, answer it
/// itself, or call `next` and change the response. Middleware sees 404 and 405 answers too.
public protocol Middleware: Sendable {
    func handle(_ request: Request, next: Next) async throws -> Response
}
