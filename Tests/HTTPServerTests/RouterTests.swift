import HTTPServer
import Testing

/// The router in process, without sockets.
@Suite(.timeLimit(.minutes(5))) struct RouterTests {
    struct Teapot: HTTPResponseError {
        var response: Response { .problem(HTTPStatus(code: 418, reason: "I'm a teapot"), detail: "short and stout") }
    }
    struct Secret: Error {}

    func router() -> Router {
        var routes = RouterBuilder()
        routes.get("/v1/sessions/{id}") { r in Response(contentType: "text/plain", body: Array("session \(r.parameters["id"] ?? "")".utf8)) }
        routes.get("/v1/sessions/search") { _ in Response(contentType: "text/plain", body: Array("search".utf8)) }
        routes.delete("/v1/sessions/{id}") { _ in Response(status: .noContent) }
        routes.get("/v1/sessions/{id}/messages/{mid}") { r in
            Response(contentType: "text/plain", body: Array("\(r.parameters["id"] ?? "")/\(r.parameters["mid"] ?? "")".utf8))
        }
        routes.post("/upload", bodyLimit: 10) { r in Response(contentType: "text/plain", body: r.body) }
        routes.post("/form") { r in Response(contentType: "text/plain", body: r.body) }
        routes.get("/teapot") { _ in throw Teapot() }
        routes.get("/secret") { _ in throw Secret() }
        return routes.build(defaultBodyLimit: 100)
    }

    func body(_ response: Response) -> String {
        if case .bytes(let b) = response.body { return String(decoding: b, as: UTF8.self) }
        return "<stream>"
    }

    @Test func bindsParameters() async {
        let response = await router().respond(to: Request(method: .get, target: "/v1/sessions/abc/messages/42"))
        #expect(body(response) == "abc/42")
    }

    @Test func literalSegmentWinsOverParameter() async {
        #expect(body(await router().respond(to: Request(method: .get, target: "/v1/sessions/search"))) == "search")
        #expect(body(await router().respond(to: Request(method: .get, target: "/v1/sessions/other"))) == "session other")
    }

    @Test func parametersArePercentDecoded() async {
        #expect(body(await router().respond(to: Request(method: .get, target: "/v1/sessions/a%20b?x=1"))) == "session a b")
    }

    @Test func badPercentEncodingIs400() async {
        #expect(await router().respond(to: Request(method: .get, target: "/v1/sessions/%zz")).status.code == 400)
    }

    @Test func unknownPathIs404Problem() async {
        let response = await router().respond(to: Request(method: .get, target: "/nope"))
        #expect(response.status.code == 404)
        #expect(response.headers["Content-Type"] == "application/problem+json")
        #expect(body(response).contains("\"detail\":\"no route matches /nope\""))
    }

    @Test func wrongMethodIs405WithAllow() async {
        let response = await router().respond(to: Request(method: .post, target: "/v1/sessions/abc"))
        #expect(response.status.code == 405)
        #expect(response.headers["Allow"] == "DELETE, GET, HEAD")
    }

    /// A literal path that matches decides on its own: a method it lacks is 405, not handed
    /// to a parameter pattern that also matches (`DELETE /v1/sessions/search` is no session).
    @Test func theMostSpecificMatchingPathDecidesTheMethods() async {
        let response = await router().respond(to: Request(method: .delete, target: "/v1/sessions/search"))
        #expect(response.status.code == 405)
        #expect(response.headers["Allow"] == "GET, HEAD")
        #expect(await router().respond(to: Request(method: .delete, target: "/v1/sessions/other")).status.code == 204)
    }

    @Test func headIsServedByGet() async {
        #expect(await router().respond(to: Request(method: .head, target: "/v1/sessions/x")).status.code == 200)
    }

    /// Segments are cut and literals compared on the bytes: a character that only looks like
    /// a literal (the Kelvin sign is canonically equivalent to `K`) is not that literal, and
    /// empty or non-ASCII segments keep their place.
    @Test func segmentsAreBytes() async {
        var routes = RouterBuilder()
        routes.get("/K/{x}") { r in Response(contentType: "text/plain", body: Array("K \(r.parameters["x"] ?? "")".utf8)) }
        routes.get("/{a}/{b}") { r in Response(contentType: "text/plain", body: Array("\(r.parameters["a"] ?? "")|\(r.parameters["b"] ?? "")".utf8)) }
        let router = routes.build(defaultBodyLimit: 100)
        #expect(body(await router.respond(to: Request(method: .get, target: "/K/%C3%A9t%C3%A9"))) == "K été")
        #expect(body(await router.respond(to: Request(method: .get, target: "/\u{212A}/y"))) == "\u{212A}|y")
        #expect(body(await router.respond(to: Request(method: .get, target: "/caf\u{E9}/\u{1F600}"))) == "caf\u{E9}|\u{1F600}")
        #expect(await router.respond(to: Request(method: .get, target: "//y")).status == .notFound, "an empty segment is no parameter")
        #expect(await router.respond(to: Request(method: .get, target: "/K/y/")).status == .notFound)
    }

    @Test func trailingSlashIsADifferentPath() async {
        #expect(await router().respond(to: Request(method: .get, target: "/v1/sessions/x/")).status.code == 404)
    }

    @Test func bodyLimitsArePerRoute() {
        let r = router()
        func head(_ method: String, _ target: String) -> RequestHead? {
            var parser = RequestParser()
            var i = 0
            let bytes = Array("\(method) \(target) HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\n".utf8)
            if case .head(let h) = try? parser.next(bytes, &i) { return h }
            return nil
        }
        #expect(head("POST", "/upload").map(r.bodyLimit(for:)) == 10)
        #expect(head("POST", "/form").map(r.bodyLimit(for:)) == 100, "the default")
        // Routes that take no body, and requests no route takes, read none.
        #expect(head("GET", "/v1/sessions/x").map(r.bodyLimit(for:)) == 0)
        #expect(head("DELETE", "/v1/sessions/x").map(r.bodyLimit(for:)) == 0)
        #expect(head("PATCH", "/v1/sessions/x").map(r.bodyLimit(for:)) == 0)
        #expect(head("POST", "/nowhere").map(r.bodyLimit(for:)) == 0)
    }

    @Test func knownErrorsRenderThemselvesAndOthersRevealNothing() async {
        let teapot = await router().respond(to: Request(method: .get, target: "/teapot"))
        #expect(teapot.status.code == 418)
        let secret = await router().respond(to: Request(method: .get, target: "/secret"))
        #expect(secret.status.code == 500)
        #expect(!body(secret).contains("Secret"))
    }

    struct Tag: Middleware {
        let name: String
        func handle(_ request: Request, next: Next) async throws -> Response {
            var request = request
            request.headers.add("X-Trail", name)
            var response = try await next(request)
            response.headers.add("X-Trail", name)
            return response
        }
    }

    @Test func middlewareRunsOutermostFirstAndSeesNotFound() async {
        var routes = RouterBuilder()
        routes.use(Tag(name: "outer"))
        routes.use(Tag(name: "inner"))
        routes.get("/trail") { r in Response(contentType: "text/plain", body: Array(r.headers.values("X-Trail").joined(separator: ",").utf8)) }
        let router = routes.build()
        let response = await router.respond(to: Request(method: .get, target: "/trail"))
        #expect(body(response) == "outer,inner")
        #expect(response.headers.values("X-Trail") == ["inner", "outer"])
        let missing = await router.respond(to: Request(method: .get, target: "/missing"))
        #expect(missing.status.code == 404)
        #expect(missing.headers.values("X-Trail") == ["inner", "outer"])
    }

    /// The application's error renderer answers what handlers throw, innermost, so middleware
    /// sees the status it became; errors it does not know fall back to the router's own.
    @Test func theErrorRendererAnswersThrownErrorsBeforeMiddlewareSeesThem() async {
        struct Refused: Error {}
        var routes = RouterBuilder()
        routes.errorRenderer = { error in error is Refused ? Response(status: HTTPStatus(code: 409, reason: "Conflict")) : nil }
        routes.use(Tag(name: "outer"))
        routes.get("/refused") { _ in throw Refused() }
        routes.get("/secret") { _ in throw Secret() }
        let router = routes.build()
        let refused = await router.respond(to: Request(method: .get, target: "/refused"))
        #expect(refused.status.code == 409)
        #expect(refused.headers.values("X-Trail") == ["outer"], "the middleware saw the rendered response")
        #expect(await router.respond(to: Request(method: .get, target: "/secret")).status.code == 500)
    }
}
