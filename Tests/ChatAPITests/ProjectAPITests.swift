import Foundation
import HTTPServerTesting
import StorageTesting
import Testing

/// Projects and their system prompts over HTTP, on SQLite and PostgreSQL.
@Suite(.timeLimit(.minutes(5))) struct ProjectAPITests {
    @Test(arguments: TestBackend.available)
    func projectsPromptsAndSessions(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let project = try await api.call("POST", "/v1/projects", token: token, json: #"{"name":" Research ","description":"papers"}"#)
            #expect(project.status == 201)
            #expect(project["name"] == "Research")
            let id = try #require(project["id"])

            let second = try await api.call("POST", "/v1/projects/\(id)/prompts", token: token, json: #"{"text":"Cite sources."}"#)
            let first = try await api.call("POST", "/v1/projects/\(id)/prompts", token: token, json: #"{"text":"You are terse.","position":0}"#)
            #expect(second.status == 201 && first.status == 201)
            #expect(second.json["position"] as? Int == 0)
            // Equal positions keep the order they were added in; moving one reorders.
            let moved = try await api.call("PATCH", "/v1/prompts/\(try #require(second["id"]))", token: token, json: #"{"position":5}"#)
            #expect(moved.json["position"] as? Int == 5)
            let listed = try await api.call("GET", "/v1/projects/\(id)/prompts", token: token)
            #expect(listed.items.compactMap { $0["text"] as? String } == ["You are terse.", "Cite sources."])

            let session = try await api.call("POST", "/v1/sessions", token: token, json: #"{"project_id":"\#(id)"}"#)
            #expect(session["project_id"] == id)

            let renamed = try await api.call("PATCH", "/v1/projects/\(id)", token: token, json: #"{"name":"Reading"}"#)
            #expect(renamed["name"] == "Reading")
            #expect(renamed["description"] == "papers")
            #expect(try await api.call("GET", "/v1/projects", token: token).items.count == 1)

            #expect(try await api.call("DELETE", "/v1/projects/\(id)", token: token).status == 204)
            #expect(try await api.call("GET", "/v1/projects/\(id)/prompts", token: token).status == 404)
            // The session stays, detached from the deleted project.
            let detached = try await api.call("GET", "/v1/sessions/\(try #require(session["id"]))", token: token)
            #expect(detached.status == 200)
            #expect(detached.json["project_id"] is JSONNull)
        }
    }

    @Test(arguments: TestBackend.available)
    func anotherUsersProjectAndPromptsAreNotFound(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let ann = try #require(try await api.register("ann@example.org")["access_token"])
            let bob = try #require(try await api.register("bob@example.org")["access_token"])
            let id = try #require(try await api.call("POST", "/v1/projects", token: ann, json: #"{"name":"secret"}"#)["id"])
            let prompt = try #require(try await api.call("POST", "/v1/projects/\(id)/prompts", token: ann, json: #"{"text":"x"}"#)["id"])
            for (method, path, body) in [("GET", "/v1/projects/\(id)", nil), ("PATCH", "/v1/projects/\(id)", #"{"name":"mine"}"#),
                                         ("DELETE", "/v1/projects/\(id)", nil), ("GET", "/v1/projects/\(id)/prompts", nil),
                                         ("POST", "/v1/projects/\(id)/prompts", #"{"text":"y"}"#), ("PATCH", "/v1/prompts/\(prompt)", #"{"text":"z"}"#),
                                         ("DELETE", "/v1/prompts/\(prompt)", nil)] {
                #expect(try await api.call(method, path, token: bob, json: body).status == 404, "\(method) \(path)")
            }
            #expect(try await api.call("POST", "/v1/sessions", token: bob, json: #"{"project_id":"\#(id)"}"#).status == 404)
            #expect(try await api.call("GET", "/v1/projects/\(id)/prompts", token: ann).items.count == 1)
        }
    }

    @Test func invalidProjectsAndPrompts() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            #expect(try await api.call("POST", "/v1/projects", token: token, json: "{}")["detail"] == "name is required")
            #expect(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"  "}"#).status == 422)
            let id = try #require(try await api.call("POST", "/v1/projects", token: token, json: #"{"name":"p"}"#)["id"])
            #expect(try await api.call("POST", "/v1/projects/\(id)/prompts", token: token, json: #"{"text":""}"#).status == 422)
            #expect(try await api.call("POST", "/v1/projects/\(id)/prompts", token: token, json: #"{"text":"a","position":-1}"#)["detail"] == "position must be from 0 to 10000")
        }
    }
}
