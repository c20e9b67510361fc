import ChatCore
import Foundation
import Storage
import StorageTesting
import Testing

/// `/openai/v1` in process: what is kept of a completion without a session (its usage, no
/// rows), errors in OpenAI's shape, members that cannot be honoured named.
@Suite(.timeLimit(.minutes(2))) struct OpenAIAPITests {
    @Test(arguments: TestBackend.available)
    func aCompletionWithoutASessionIsChargedAndRecordedButNotStored(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let reply = try await api.call("POST", "/openai/v1/chat/completions", token: token, json: """
                {"model":"mock-model","messages":[{"role":"user","content":"one two mock:tokens=3 mock:delay=0"}],"user":"end-user-7"}
                """)
            #expect(reply.status == 200, "\(reply.text)")
            #expect(reply["object"] == "chat.completion")
            #expect(reply.headers["x-parley-session"] == nil)
            #expect(try await api.call("GET", "/v1/sessions", token: token).items.isEmpty, "no session was made")
            let usage = try await api.database.query("SELECT session_id, completion_tokens FROM usage_events", [])
            #expect(usage.count == 1)
            #expect(usage.first?["session_id"] == nil, "recorded without a session")
            #expect(try usage.first?.int("completion_tokens") == 3)
            #expect(try await api.database.query("SELECT id FROM messages", []).isEmpty, "nothing stored")
        }
    }

    @Test func errorsComeInOpenAIsShape() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            func error(_ reply: Reply) -> [String: any Sendable] { reply.json["error"] as? [String: any Sendable] ?? [:] }
            let unsupported = try await api.call("POST", "/openai/v1/chat/completions", token: token,
                                                 json: #"{"model":"mock-model","messages":[{"role":"user","content":"x"}],"logprobs":true}"#)
            #expect(unsupported.status == 400)
            #expect(error(unsupported)["param"] as? String == "logprobs")
            #expect(error(unsupported)["type"] as? String == "invalid_request_error")
            let nested = try await api.call("POST", "/openai/v1/chat/completions", token: token,
                                            json: #"{"model":"mock-model","messages":[{"role":"user","content":"x","name":"bob"}]}"#)
            #expect(error(nested)["param"] as? String == "messages[0].name")
            let image = try await api.call("POST", "/openai/v1/chat/completions", token: token, json: """
                {"model":"mock-model","messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"x"}}]}]}
                """)
            #expect(image.status == 400)
            let tooMany = try await api.call("POST", "/openai/v1/chat/completions", token: token,
                                             json: #"{"model":"mock-model","messages":[{"role":"user","content":"x"}],"max_tokens":999999}"#)
            #expect(tooMany.status == 400, "parley's 422 is OpenAI's 400")
            #expect(error(tooMany)["param"] as? String == "max_tokens")
            let unknownModel = try await api.call("POST", "/openai/v1/chat/completions", token: token,
                                                  json: #"{"model":"gpt-9","messages":[{"role":"user","content":"x"}]}"#)
            #expect(unknownModel.status == 404)
            #expect(error(unknownModel)["code"] as? String == "model_not_found")
            #expect(error(unknownModel)["param"] as? String == "model")
            let noKey = try await api.call("GET", "/openai/v1/models")
            #expect(noKey.status == 401)
            #expect(error(noKey)["code"] as? String == "invalid_api_key")
            let noRoute = try await api.call("GET", "/openai/v1/embeddings", token: token)
            #expect(noRoute.status == 404)
            #expect(error(noRoute)["message"] != nil, "an unknown route too")
            #expect(try await api.call("GET", "/v1/sessions/nope", token: token).headers["content-type"] == "application/problem+json",
                    "parley's own routes keep problem documents")
        }
    }

    /// What the request asks for reaches the upstream: `temperature`, `top_p`, `stop`,
    /// `max_completion_tokens`; without a temperature, the deployment's default.
    @Test func samplingParametersReachTheUpstream() async throws {
        try await APIHarness.with(.sqlite, settings: { $0.defaultTemperature = 0.3 }) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            func content(_ reply: Reply) -> String? {
                ((reply.json["choices"] as? [any Sendable])?.first as? [String: any Sendable]).flatMap { $0["message"] as? [String: any Sendable] }?["content"] as? String
            }
            let asked = try await api.call("POST", "/openai/v1/chat/completions", token: token, json: """
                {"model":"mock-model","messages":[{"role":"user","content":"mock:echo=params mock:delay=0"}],"temperature":1.5,"top_p":0.9,"stop":["END","STOP"],"max_completion_tokens":77}
                """)
            #expect(content(asked) == "temperature=1.5 max_tokens=77 top_p=0.9 stop=END|STOP", "\(asked.text)")
            let plain = try await api.call("POST", "/openai/v1/chat/completions", token: token,
                                           json: #"{"model":"mock-model","messages":[{"role":"user","content":"mock:echo=params mock:delay=0"}]}"#)
            #expect(content(plain) == "temperature=0.3 max_tokens=4096 top_p=- stop=-", "the default temperature, the output cap")
            let session = try await api.newSession(token)
            let sent = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"mock:echo=params mock:delay=0"}"#)
            #expect((sent.json["message"] as? [String: any Sendable])?["content"] as? String == "temperature=0.3 max_tokens=4096 top_p=- stop=-")
        }
    }
}
