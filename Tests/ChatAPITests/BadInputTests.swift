import ChatCore
import Foundation
import HTTPServerTesting
import Storage
import StorageTesting
import Testing

/// Bad input of every kind, as a table like the parser's: each case is refused with the status
/// and the precise `detail` beside it, and nothing it sent is kept.
@Suite(.timeLimit(.minutes(5))) struct BadInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let name: String
        let method: String
        /// `{session}` and `{project}` stand for ids of the caller's own.
        let path: String
        var json: String? = nil
        var contentType = "application/json"
        var signedIn = true
        let status: Int
        var detail: String? = nil
        var testDescription: String { name }
    }

    static let cases: [Case] = [
        // Bodies (JSONBody)
        Case(name: "not JSON", method: "POST", path: "/v1/auth/register", json: "{not json", signedIn: false, status: 400,
             detail: "the body is not a valid JSON object"),
        Case(name: "not application/json", method: "POST", path: "/v1/auth/register", json: #"{"email":"a@b.co"}"#, contentType: "text/plain",
             signedIn: false, status: 415, detail: "the body must be application/json"),
        Case(name: "a required field missing", method: "POST", path: "/v1/auth/register", json: #"{"email":"a@b.co"}"#, signedIn: false,
             status: 422, detail: "password is required"),
        Case(name: "a field of the wrong type", method: "POST", path: "/v1/auth/register", json: #"{"email":"a@b.co","password":12345678}"#,
             signedIn: false, status: 422, detail: "password must be a string"),
        Case(name: "a body over the route's limit", method: "POST", path: "/v1/auth/register",
             json: #"{"email":"\#(String(repeating: "a", count: 20_000))"}"#, signedIn: false, status: 413),
        Case(name: "snake_case in the detail", method: "POST", path: "/v1/auth/refresh", json: "{}", signedIn: false, status: 422,
             detail: "refresh_token is required"),
        Case(name: "NUL in a used field", method: "POST", path: "/v1/sessions", json: #"{"title":"a\u0000b"}"#, status: 422,
             detail: "title must not contain the NUL character (\\u0000)"),
        // Sessions
        Case(name: "a model the server does not offer", method: "POST", path: "/v1/sessions", json: #"{"model":"gpt-9"}"#, status: 422,
             detail: "model must be one of the models this server offers: mock, other-model, mock-model"),
        Case(name: "a title too long", method: "POST", path: "/v1/sessions", json: #"{"title":"\#(String(repeating: "t", count: 201))"}"#,
             status: 422),
        Case(name: "a blank title", method: "POST", path: "/v1/sessions", json: #"{"title":"   "}"#, status: 422),
        Case(name: "a project that is not there", method: "POST", path: "/v1/sessions", json: #"{"project_id":"\#(UUID())"}"#, status: 404,
             detail: "project not found"),
        Case(name: "a page too large", method: "GET", path: "/v1/sessions?limit=500", status: 422),
        Case(name: "a cursor the server did not issue", method: "GET", path: "/v1/sessions?cursor=zzz", status: 422),
        Case(name: "no credentials", method: "GET", path: "/v1/sessions", signedIn: false, status: 401),
        Case(name: "a session id that is not one", method: "GET", path: "/v1/sessions/not-a-uuid", status: 404, detail: "session not found"),
        // Sends
        Case(name: "an empty message", method: "POST", path: "/v1/sessions/{session}/messages", json: #"{"content":"  "}"#, status: 422,
             detail: "content must not be empty"),
        Case(name: "a temperature out of range", method: "POST", path: "/v1/sessions/{session}/messages", json: #"{"content":"hi","temperature":3}"#,
             status: 422, detail: "temperature must be from 0 to 2"),
        Case(name: "max_tokens over the server's cap", method: "POST", path: "/v1/sessions/{session}/messages",
             json: #"{"content":"hi","max_tokens":5000}"#, status: 422, detail: "max_tokens must be a whole number from 1 to 4096 (CHAT_MAX_OUTPUT_TOKENS)"),
        Case(name: "a resume offset that is not a number", method: "GET", path: "/v1/sessions/{session}/messages/\(UUID())/events?after=abc",
             status: 422),
        Case(name: "stop with nothing running", method: "POST", path: "/v1/sessions/{session}/stop", status: 409,
             detail: "no answer is being generated in this session"),
        // Projects
        Case(name: "a project without a name", method: "POST", path: "/v1/projects", json: "{}", status: 422, detail: "name is required"),
        Case(name: "a prompt without text", method: "POST", path: "/v1/projects/{project}/prompts", json: "{}", status: 422,
             detail: "text is required"),
        Case(name: "a prompt position out of range", method: "POST", path: "/v1/projects/{project}/prompts",
             json: #"{"text":"be brief","position":-1}"#, status: 422, detail: "position must be from 0 to 10000"),
        // Keys and admin
        Case(name: "an API key without a name", method: "POST", path: "/v1/api-keys", json: #"{"name":""}"#, status: 422,
             detail: "name must be 1 to 100 characters"),
        Case(name: "admin routes for a user", method: "GET", path: "/v1/admin/users", status: 403, detail: "only admins can list users"),
    ]

    @Test(arguments: cases)
    func badInputIsRefusedPrecisely(_ bad: Case) async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token, model: "mock")
            let project = try #require(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"p"}"#)["id"])
            let path = bad.path.replacingOccurrences(of: "{session}", with: session).replacingOccurrences(of: "{project}", with: project)
            let before = try await api.database.query("SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM chat_sessions) AS n", [])
            let reply = try await api.call(bad.method, path, token: bad.signedIn ? token : nil, json: bad.json, contentType: bad.contentType)
            #expect(reply.status == bad.status, "\(reply.text)")
            if let detail = bad.detail { #expect(reply["detail"] == detail) }
            #expect(reply.headers["content-type"] == "application/problem+json")
            let after = try await api.database.query("SELECT (SELECT COUNT(*) FROM messages) + (SELECT COUNT(*) FROM chat_sessions) AS n", [])
            #expect(after.first?["n"] == before.first?["n"], "nothing was stored")
        }
    }
}
