import ChatCore
import ChatCoreTesting
import Foundation
import HTTPServerTesting
import Storage
import StorageTesting
import Testing

/// Chat sessions and their history over HTTP, on SQLite and PostgreSQL.
@Suite(.timeLimit(.minutes(5))) struct SessionAPITests {
    /// A NUL in text would be cut off by either database while the API echoed the whole
    /// value: it is refused with 422 naming the field. The six characters `\u0000` written as
    /// text (an escaped backslash) are ordinary text and round-trip.
    /// System prompts go upstream in a documented order: the deployment's, the session's, then
    /// the project's, each a system message before the conversation.
    @Test func systemPromptsGoUpstreamInTheirOrder() async throws {
        try await APIHarness.with(.sqlite, settings: { $0.systemPrompt = "Deployment rules." }) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let project = try #require(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"p"}"#)["id"])
            _ = try await api.call("POST", "/v1/projects/\(project)/prompts", token: token, json: #"{"text":"Project rules."}"#)
            let created = try await api.call("POST", "/v1/sessions", token: token,
                                             json: #"{"model":"mock-model","project_id":"\#(project)","system_prompt":"Session rules."}"#)
            #expect(created["system_prompt"] == "Session rules.")
            let session = try #require(created["id"])
            let reply = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"hi mock:echo=context mock:delay=0"}"#)
            let content = (reply.json["message"] as? [String: any Sendable])?["content"] as? String
            #expect(content == "[system] Deployment rules.\n[system] Session rules.\n[system] Project rules.\n[user] hi mock:echo=context mock:delay=0\n")
            let cleared = try await api.call("PATCH", "/v1/sessions/\(session)", token: token, json: #"{"system_prompt":null}"#)
            #expect(cleared.json["system_prompt"] is JSONNull)
            let long = String(repeating: "x", count: 8001)
            #expect(try await api.call("PATCH", "/v1/sessions/\(session)", token: token, json: #"{"system_prompt":"\#(long)"}"#).status == 422)
        }
    }

    /// Sessions listed by project, and moved between projects (and out of one).
    @Test(arguments: TestBackend.available)
    func sessionsAreListedByProjectAndMoved(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let work = try #require(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"work"}"#)["id"])
            let home = try #require(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"home"}"#)["id"])
            let inWork = try #require(try await api.call("POST", "/v1/sessions", token: token, json: #"{"project_id":"\#(work)"}"#)["id"])
            let loose = try await api.newSession(token)
            #expect(try await api.call("GET", "/v1/sessions?project_id=\(work)", token: token).items.map { $0["id"] as? String } == [inWork])
            #expect(try await api.call("GET", "/v1/sessions?project_id=\(home)", token: token).items.isEmpty)
            let moved = try await api.call("PATCH", "/v1/sessions/\(loose)", token: token, json: #"{"project_id":"\#(home)"}"#)
            #expect(moved["project_id"] == home)
            #expect(try await api.call("GET", "/v1/sessions?project_id=\(home)", token: token).items.map { $0["id"] as? String } == [loose])
            let out = try await api.call("PATCH", "/v1/sessions/\(inWork)", token: token, json: #"{"project_id":null}"#)
            #expect(out.json["project_id"] is JSONNull)
            #expect(try await api.call("GET", "/v1/sessions?project_id=\(work)", token: token).items.isEmpty)
            #expect(try await api.call("PATCH", "/v1/sessions/\(loose)", token: token, json: #"{"title":"renamed"}"#)["project_id"] == home,
                    "a change that does not name the project leaves it")
            let other = try #require(try await api.register("bob@example.org")["access_token"])
            let bobs = try #require(try await api.call("POST", "/v1/projects", token: other, json: #"{"name":"bob's"}"#)["id"])
            #expect(try await api.call("PATCH", "/v1/sessions/\(loose)", token: token, json: #"{"project_id":"\#(bobs)"}"#).status == 404)
            #expect(try await api.call("GET", "/v1/sessions?project_id=\(bobs)", token: token).status == 404)
            #expect(try await api.call("GET", "/v1/sessions?project_id=nonsense", token: token).status == 422)
        }
    }

    @Test(arguments: TestBackend.available)
    func textWithNULIsRefusedNamingTheField(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let refused = try await api.call("POST", "/v1/sessions", token: token, json: #"{"title":"before\u0000after"}"#)
            #expect(refused.status == 422)
            #expect(refused["detail"] == "title must not contain the NUL character (\\u0000)")
            let session = try await api.newSession(token)
            let content = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"hi\u0000there"}"#)
            #expect(content.status == 422)
            #expect(content["detail"] == "content must not contain the NUL character (\\u0000)")
            #expect(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.isEmpty, "nothing was stored")
            // A member the request does not use may hold anything.
            #expect(try await api.call("POST", "/v1/sessions", token: token, json: #"{"title":"ok","unused":"x\u0000y"}"#).status == 201)
            let literal = try await api.call("POST", "/v1/sessions", token: token, json: #"{"title":"a\\u0000b"}"#)
            #expect(literal.status == 201)
            #expect(literal["title"] == #"a\u0000b"#)
            #expect(try await api.call("GET", "/v1/sessions/\(literal["id"] ?? "")", token: token)["title"] == #"a\u0000b"#)
        }
    }

    @Test(arguments: TestBackend.available)
    func createListRenameAndDelete(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let created = try await api.call("POST", "/v1/sessions", token: token, json: #"{"title":"  Trip planning "}"#)
            #expect(created.status == 201)
            #expect(created["title"] == "Trip planning")
            #expect(created["model"] == "mock")
            let id = try #require(created["id"])
            let untitled = try await api.call("POST", "/v1/sessions", token: token)
            #expect(untitled["title"] == "New chat")

            api.clock.advance(.seconds(1))
            let renamed = try await api.call("PATCH", "/v1/sessions/\(id)", token: token, json: #"{"title":"Japan trip","model":"other-model"}"#)
            #expect(renamed.status == 200)
            #expect(renamed["model"] == "other-model")
            #expect(try await api.call("GET", "/v1/sessions/\(id)", token: token)["title"] == "Japan trip")

            // Newest activity first, paged.
            let first = try await api.call("GET", "/v1/sessions?limit=1", token: token)
            #expect(first.items.first?["id"] as? String == id)
            let cursor = try #require(first["next_cursor"])
            let second = try await api.call("GET", "/v1/sessions?limit=1&cursor=\(cursor.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")", token: token)
            #expect(second.items.first?["id"] as? String == untitled["id"])

            #expect(try await api.call("GET", "/v1/sessions/\(id)/messages", token: token).items.isEmpty)
            #expect(try await api.call("DELETE", "/v1/sessions/\(id)", token: token).status == 204)
            #expect(try await api.call("GET", "/v1/sessions/\(id)", token: token).status == 404)
        }
    }

    /// Another user's session does not exist for them: 404 on every route, never 403.
    @Test(arguments: TestBackend.available)
    func anotherUsersSessionIsNotFoundEverywhere(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let ann = try #require(try await api.register("ann@example.org")["access_token"])
            let bob = try #require(try await api.register("bob@example.org")["access_token"])
            let id = try #require(try await api.call("POST", "/v1/sessions", token: ann)["id"])
            for (method, path, body) in [("GET", "/v1/sessions/\(id)", nil), ("PATCH", "/v1/sessions/\(id)", #"{"title":"mine now"}"#),
                                         ("DELETE", "/v1/sessions/\(id)", nil), ("GET", "/v1/sessions/\(id)/messages", nil)] {
                let reply = try await api.call(method, path, token: bob, json: body)
                #expect(reply.status == 404, "\(method) \(path)")
                #expect(reply["detail"] == "session not found")
            }
            #expect(try await api.call("GET", "/v1/sessions", token: bob).items.isEmpty)
            #expect(try await api.call("GET", "/v1/sessions/\(id)", token: ann).status == 200)
            #expect(try await api.call("GET", "/v1/sessions/not-a-uuid", token: ann).status == 404)
        }
    }

    @Test(arguments: TestBackend.available)
    func historyIsPagedNewestFirst(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let reg = try await api.register("ann@example.org")
            let token = try #require(reg["access_token"])
            let id = try #require(try await api.call("POST", "/v1/sessions", token: token)["id"])
            let database = api.database
            let messages = SQLMessageRepository(database: database)
            for i in 1...5 {
                _ = try await messages.append(Message(id: Message.ID(UUID()), sessionID: try #require(ChatSession.ID(id)),
                                                      role: i % 2 == 1 ? .user : .assistant, content: "m\(i)", status: .complete,
                                                      createdAt: api.clock.now(), updatedAt: api.clock.now()))
            }
            var contents: [String] = []
            var cursor: String?
            repeat {
                let query = cursor.map { "&cursor=\($0.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? "")" } ?? ""
                let page = try await api.call("GET", "/v1/sessions/\(id)/messages?limit=2\(query)", token: token)
                #expect(page.status == 200)
                contents += page.items.compactMap { $0["content"] as? String }
                cursor = page["next_cursor"]
            } while cursor != nil
            #expect(contents == ["m5", "m4", "m3", "m2", "m1"])
        }
    }
}
