import ChatCore
import Foundation
import HTTPClient
import StorageTesting
import Testing

/// A session's messages as a tree: regenerate and edit add siblings, the active path is what
/// history, context, export and fork follow, branches can be switched and subtrees deleted,
/// and a branched session survives export and import byte for byte.
@Suite(.timeLimit(.minutes(5))) struct TreeAPITests {
    /// Sends `content` (JSON mode) with `parent` (`nil`: the active leaf; `"null"`: a new root).
    static func send(_ api: APIHarness, _ token: String, _ session: String, _ content: String, parent: String? = nil) async throws -> Reply {
        let parentField = parent.map { $0 == "null" ? #","parent_id":null"# : #","parent_id":"\#($0)""# } ?? ""
        return try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"\#(content)"\#(parentField)}"#)
    }

    static func answerID(_ reply: Reply) throws -> String {
        try #require((reply.json["message"] as? [String: any Sendable])?["id"] as? String, "\(reply.text)")
    }

    static func userID(_ reply: Reply) throws -> String {
        try #require((reply.json["user_message"] as? [String: any Sendable])?["id"] as? String, "\(reply.text)")
    }

    static func content(_ reply: Reply) -> String? {
        (reply.json["message"] as? [String: any Sendable])?["content"] as? String
    }

    /// The active path, oldest first, as (id, role, siblings, sibling_index).
    static func path(_ api: APIHarness, _ token: String, _ session: String) async throws -> [(id: String, role: String, siblings: Int, index: Int)] {
        let page = try await api.call("GET", "/v1/sessions/\(session)/messages", token: token)
        return try page.items.reversed().map { item in
            (try #require(item["id"] as? String), try #require(item["role"] as? String),
             try #require(item["siblings"] as? Int), try #require(item["sibling_index"] as? Int))
        }
    }

    @Test(arguments: TestBackend.available)
    func regenerateAndEditMakeSiblingsAndTheContextFollowsTheActiveBranch(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let first = try await Self.send(api, token, session, "one mock:tokens=2 mock:delay=0")
            let q1 = try Self.userID(first), a1 = try Self.answerID(first)
            let second = try await Self.send(api, token, session, "two mock:echo=context mock:delay=0")
            let q2 = try Self.userID(second), a2 = try Self.answerID(second)
            #expect(Self.content(second) == "[user] one mock:tokens=2 mock:delay=0\n[assistant] one mock:tokens=2 \n[user] two mock:echo=context mock:delay=0\n")

            // Regenerate the second answer: a sibling of it, answering the same question.
            let regenerated = try await api.call("POST", "/v1/sessions/\(session)/messages/\(a2)/regenerate", token: token, json: "{}")
            #expect(regenerated.status == 200, "\(regenerated.text)")
            let a2b = try Self.answerID(regenerated)
            #expect(try Self.userID(regenerated) == q2, "the same question")
            #expect((regenerated.json["message"] as? [String: any Sendable])?["parent_id"] as? String == q2)
            #expect(try await Self.path(api, token, session).map(\.id) == [q1, a1, q2, a2b])
            let onPath = try await Self.path(api, token, session)
            #expect(onPath.map(\.siblings) == [1, 1, 1, 2])
            #expect(onPath.map(\.index) == [0, 0, 0, 1])

            // Edit the second question: a new question after a1, answered with the context of
            // that branch only.
            let edited = try await Self.send(api, token, session, "two edited mock:echo=context mock:delay=0", parent: a1)
            let q2b = try Self.userID(edited)
            #expect(Self.content(edited) == "[user] one mock:tokens=2 mock:delay=0\n[assistant] one mock:tokens=2 \n[user] two edited mock:echo=context mock:delay=0\n")
            let afterEdit = try await Self.path(api, token, session)
            #expect(afterEdit.map(\.id) == [q1, a1, q2b, try Self.answerID(edited)])
            #expect(afterEdit[2].siblings == 2 && afterEdit[2].index == 1)

            // Edit the first question: a new root.
            let rootEdit = try await Self.send(api, token, session, "zero mock:echo=context mock:delay=0", parent: "null")
            #expect(Self.content(rootEdit) == "[user] zero mock:echo=context mock:delay=0\n", "nothing of the other branches")
            #expect(try await Self.path(api, token, session).map(\.siblings) == [2, 1])

            // A question cannot follow a question; an unknown parent is not found.
            #expect(try await Self.send(api, token, session, "x", parent: q1).status == 422)
            #expect(try await Self.send(api, token, session, "x", parent: UUID().uuidString).status == 404)
            #expect(try await api.call("POST", "/v1/sessions/\(session)/messages/\(q1)/regenerate", token: token).status == 422,
                    "a question is not regenerated")

            // Switch back to the regenerated branch: down through the newest reply to a leaf.
            let switched = try await api.call("PATCH", "/v1/sessions/\(session)", token: token, json: #"{"active_leaf_id":"\#(q2)"}"#)
            #expect(switched.status == 200)
            #expect(switched["active_leaf_id"] == a2b)
            #expect(try await Self.path(api, token, session).map(\.id) == [q1, a1, q2, a2b])
            // The next send continues that branch, with its context.
            let next = try await Self.send(api, token, session, "three mock:echo=context mock:delay=0")
            #expect(Self.content(next)?.contains("[assistant] ") == true)
            #expect(Self.content(next)?.contains("two edited") == false)
            #expect(Self.content(next)?.hasSuffix("[user] three mock:echo=context mock:delay=0\n") == true)

            // The whole tree: every message, in creation order.
            let tree = try await api.call("GET", "/v1/sessions/\(session)/tree", token: token)
            #expect(tree.items.count == 11)
            #expect(tree["active_leaf_id"] == (try Self.answerID(next)))
            #expect(tree.items.allSatisfy { $0["content"] == nil }, "contents only on request")
            let withContent = try await api.call("GET", "/v1/sessions/\(session)/tree?include=content&limit=5", token: token)
            #expect(withContent.items.count == 5)
            #expect(withContent.items.first?["content"] as? String == "one mock:tokens=2 mock:delay=0")
            #expect(withContent["next_cursor"] != nil)
        }
    }

    @Test(arguments: TestBackend.available)
    func aSubtreeIsDeletedWholeAndNeverWhileItsAnswerRuns(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let first = try await Self.send(api, token, session, "one mock:tokens=1 mock:delay=0")
            let a1 = try Self.answerID(first)
            let second = try await Self.send(api, token, session, "two mock:tokens=1 mock:delay=0")
            let q2 = try Self.userID(second)
            let other = try await Self.send(api, token, session, "two again mock:tokens=1 mock:delay=0", parent: a1)
            let q2b = try Self.userID(other)
            // A long answer under q2b: its subtree cannot go while it runs.
            var stream = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                              json: #"{"content":"long mock:tokens=50 mock:delay=20"}"#)
            _ = try await stream.next()
            let refused = try await api.call("DELETE", "/v1/sessions/\(session)/messages/\(q2b)", token: token)
            #expect(refused.status == 409)
            #expect(refused["code"] == "turn_in_progress")
            #expect(try await api.call("PATCH", "/v1/sessions/\(session)", token: token, json: #"{"active_leaf_id":"\#(q2)"}"#).status == 409,
                    "nor is the branch switched under it")
            _ = try await stream.rest()

            #expect(try await api.call("DELETE", "/v1/sessions/\(session)/messages/\(q2b)", token: token).status == 204)
            let tree = try await api.call("GET", "/v1/sessions/\(session)/tree", token: token)
            #expect(tree.items.count == 4, "q1, a1, q2, a2: the deleted branch went with everything under it")
            // The active leaf was in it: the remaining branch under a1 is active now.
            #expect(try await Self.path(api, token, session).map(\.id).last == (try Self.answerID(second)))
            #expect(try await api.call("DELETE", "/v1/sessions/\(session)/messages/\(q2b)", token: token).status == 404)
            // Deleting the root empties the session.
            let root = try #require(tree.items.first?["id"] as? String)
            #expect(try await api.call("DELETE", "/v1/sessions/\(session)/messages/\(root)", token: token).status == 204)
            #expect(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.isEmpty)
            #expect(try await api.call("GET", "/v1/sessions/\(session)", token: token)["active_leaf_id"] == nil)
            #expect(try await Self.send(api, token, session, "fresh mock:tokens=1 mock:delay=0").status == 200, "and it starts again")
        }
    }

    /// A regenerate streams, resumes and retries as a send does.
    @Test func aRegenerateStreamsResumesAndRetriesLikeASend() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let first = try await Self.send(api, token, session, "one two three mock:tokens=6 mock:delay=5")
            let (q1, a1) = (try Self.userID(first), try Self.answerID(first))
            let path = "/v1/sessions/\(session)/messages/\(a1)/regenerate"
            var stream = try await api.stream("POST", path, token: token, json: "{}", headers: [("Idempotency-Key", "regen-1")])
            let start = try #require(try await stream.next())
            #expect(start.event == "start")
            #expect((start.json["user_message"] as? [String: Any])?["id"] as? String == q1, "it answers the same question")
            let answer = try #require(start.json["assistant_message_id"] as? String)
            let firstToken = try #require(try await stream.next())
            let offset = try #require(firstToken.id)
            _ = consume stream  // the client leaves after one token
            // Resume from there: the rest, byte for byte.
            var resumed = try await api.stream("GET", "/v1/sessions/\(session)/messages/\(answer)/events", token: token,
                                               headers: [("Last-Event-ID", offset)])
            let rest = try await resumed.rest()
            #expect(rest.last?.event == "done")
            let content = try #require((rest.last?.json["message"] as? [String: Any])?["content"] as? String)
            #expect((firstToken.delta ?? "") + rest.compactMap(\.delta).joined() == content)
            // A retry with the same key joins that turn: no third answer.
            let retry = try await api.call("POST", path, token: token, json: "{}", headers: [("Idempotency-Key", "regen-1")])
            #expect(try Self.answerID(retry) == answer)
            #expect(try await api.call("GET", "/v1/sessions/\(session)/tree", token: token).items.count == 3)
        }
    }

    /// A regenerate and a send racing in one session: one answer runs, the other is refused.
    @Test(arguments: TestBackend.available)
    func aRegenerateRacingASendIsRefused(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            // Both answers take 400 ms, so the two requests overlap however loaded the machine.
            let a1 = try Self.answerID(try await Self.send(api, token, session, "one mock:tokens=20 mock:delay=20"))
            async let regenerate = api.call("POST", "/v1/sessions/\(session)/messages/\(a1)/regenerate", token: token,
                                            json: #"{"max_tokens":50}"#)
            async let send = Self.send(api, token, session, "two mock:tokens=20 mock:delay=20")
            let statuses = try await [regenerate.status, send.status].sorted()
            #expect(statuses == [200, 409], "\(statuses)")
        }
    }

    @Test(arguments: TestBackend.available)
    func anotherUsersTreeIsNotFound(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let ann = try #require(try await api.register("ann@example.org")["access_token"])
            let bob = try #require(try await api.register("bob@example.org")["access_token"])
            let session = try await api.newSession(ann)
            let first = try await Self.send(api, ann, session, "one mock:tokens=1 mock:delay=0")
            let a1 = try Self.answerID(first)
            #expect(try await api.call("GET", "/v1/sessions/\(session)/tree", token: bob).status == 404)
            #expect(try await api.call("POST", "/v1/sessions/\(session)/messages/\(a1)/regenerate", token: bob).status == 404)
            #expect(try await api.call("DELETE", "/v1/sessions/\(session)/messages/\(a1)", token: bob).status == 404)
            #expect(try await api.call("PATCH", "/v1/sessions/\(session)", token: bob, json: #"{"active_leaf_id":"\#(a1)"}"#).status == 404)
            // Bob's own session cannot name Ann's message as a parent.
            let bobs = try await api.newSession(bob)
            #expect(try await Self.send(api, bob, bobs, "x", parent: a1).status == 404)
            #expect(try await api.call("GET", "/v1/sessions/\(session)/tree", token: ann).items.count == 2)
        }
    }

    /// Export in JSON carries the whole tree; importing it makes a session with the same tree
    /// (new ids), whose export is the same document but for ids and times of import.
    @Test(arguments: TestBackend.available)
    func aBranchedSessionSurvivesExportAndImport(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let a1 = try Self.answerID(try await Self.send(api, token, session, "Grüße \\\"quoted\\\" mock:tokens=3 mock:delay=0"))
            _ = try await Self.send(api, token, session, "two mock:tokens=2 mock:delay=0")
            _ = try await Self.send(api, token, session, "two, edited ✈️ mock:tokens=2 mock:delay=0", parent: a1)
            _ = try await api.call("POST", "/v1/sessions/\(session)/messages/\(a1)/regenerate", token: token)
            let exported = try await api.call("GET", "/v1/sessions/\(session)/export?format=json", token: token)
            #expect(exported["format"] == "parley.session.v1")
            let messages = try #require(exported.json["messages"] as? [[String: any Sendable]])
            #expect(messages.count == 7)

            let imported = try await api.call("POST", "/v1/sessions/import", token: token, json: exported.text)
            #expect(imported.status == 201, "\(imported.text)")
            let copy = try #require(imported.items.first?["id"] as? String)
            let again = try await api.call("GET", "/v1/sessions/\(copy)/export?format=json", token: token)
            // The same tree: roles, contents, statuses and usage in the same order, parents
            // pointing at the same places, the same active leaf.
            func shape(_ reply: Reply) throws -> [String] {
                let items = try #require(reply.json["messages"] as? [[String: any Sendable]])
                let index = Dictionary(uniqueKeysWithValues: items.enumerated().map { ($0.element["id"] as? String ?? "", $0.offset) })
                let leaf = (reply.json["session"] as? [String: any Sendable])?["active_leaf_id"] as? String ?? ""
                return try items.map { item in
                    let parent = (item["parent_id"] as? String).flatMap { index[$0] }.map(String.init) ?? "-"
                    let usage = item["usage"] as? [String: any Sendable]
                    return [parent, try #require(item["role"] as? String), try #require(item["content"] as? String), try #require(item["status"] as? String),
                            "\(usage?["prompt_tokens"] as? Int ?? -1)/\(usage?["completion_tokens"] as? Int ?? -1)",
                            item["created_at"] as? String ?? ""].joined(separator: "|")
                } + ["leaf \(index[leaf] ?? -1)"]
            }
            let (before, after) = (try shape(exported), try shape(again))
            #expect(after == before, "\(before)\n\(after)")
            #expect(try await Self.path(api, token, copy).map(\.siblings) == (try await Self.path(api, token, session)).map(\.siblings))

            // Markdown shows the active path only.
            let markdown = try await api.call("GET", "/v1/sessions/\(copy)/export", token: token)
            #expect(markdown.text.contains("2 messages"), "the first question and its regenerated answer")
            #expect(!markdown.text.contains("two"), "other branches")

            // An export from before sessions were trees (no format, no parents) is one path.
            let legacy = """
            {"session":{"title":"Old","model":"mock-model"},"messages":[\
            {"id":"a","role":"user","content":"hi","status":"complete","created_at":"2026-01-01T00:00:00.000Z"},\
            {"id":"b","role":"assistant","content":"hello","status":"complete","created_at":"2026-01-01T00:00:01.000Z"}]}
            """
            let old = try await api.call("POST", "/v1/sessions/import", token: token, json: legacy)
            #expect(old.status == 201)
            let oldID = try #require(old.items.first?["id"] as? String)
            #expect(try await Self.path(api, token, oldID).map(\.role) == ["user", "assistant"])

            // Bad input is named precisely.
            let badRole = try await api.call("POST", "/v1/sessions/import", token: token,
                                             json: #"{"format":"parley.session.v1","session":{},"messages":[{"id":"a","role":"robot","content":"x"}]}"#)
            #expect(badRole.status == 422)
            #expect(badRole["detail"] == "messages[0].role must be user, assistant or system")
            let orphan = try await api.call("POST", "/v1/sessions/import", token: token,
                                             json: #"{"format":"parley.session.v1","session":{},"messages":[{"id":"a","parent_id":"zz","role":"user","content":"x"}]}"#)
            #expect(orphan.status == 422)
            #expect(orphan["detail"] == "messages[0].parent_id names no message of this conversation")
            let cycle = try await api.call("POST", "/v1/sessions/import", token: token, json: #"""
                {"format":"parley.session.v1","session":{},"messages":[{"id":"a","parent_id":"b","role":"user","content":"x"},{"id":"b","parent_id":"a","role":"assistant","content":"y"}]}
                """#)
            #expect(cycle.status == 422)
        }
    }

    /// A ChatGPT data export's `conversations.json`, written from its documented shape: a
    /// `mapping` of nodes with parents and children, a hidden system message, an empty root,
    /// an edited question (two branches) and `current_node` on the second.
    static let chatGPTExport = #"""
    [{"title":"Trip ideas","create_time":1700000000.5,"update_time":1700000300.0,"current_node":"n6","default_model_slug":"gpt-4o",
      "conversation_id":"c-1","id":"c-1",
      "mapping":{
        "n0":{"id":"n0","message":null,"parent":null,"children":["n1"]},
        "n1":{"id":"n1","message":{"id":"n1","author":{"role":"system","name":null,"metadata":{}},"create_time":null,
              "content":{"content_type":"text","parts":[""]},"status":"finished_successfully","metadata":{"is_visually_hidden_from_conversation":true}},
              "parent":"n0","children":["n2","n4"]},
        "n2":{"id":"n2","message":{"id":"n2","author":{"role":"user","name":null,"metadata":{}},"create_time":1700000010.0,
              "content":{"content_type":"text","parts":["Where should I go in May?"]},"status":"finished_successfully","metadata":{}},
              "parent":"n1","children":["n3"]},
        "n3":{"id":"n3","message":{"id":"n3","author":{"role":"assistant","name":null,"metadata":{}},"create_time":1700000012.0,
              "content":{"content_type":"text","parts":["Lisbon is lovely in May."]},"status":"finished_successfully","metadata":{}},
              "parent":"n2","children":[]},
        "n4":{"id":"n4","message":{"id":"n4","author":{"role":"user","name":null,"metadata":{}},"create_time":1700000100.0,
              "content":{"content_type":"multimodal_text","parts":[{"content_type":"image_asset_pointer","asset_pointer":"file-x"},"Where should I go in June?"]},
              "status":"finished_successfully","metadata":{}},
              "parent":"n1","children":["n5"]},
        "n5":{"id":"n5","message":{"id":"n5","author":{"role":"tool","name":"browser","metadata":{}},"create_time":1700000101.0,
              "content":{"content_type":"text","parts":["search results"]},"status":"finished_successfully","metadata":{}},
              "parent":"n4","children":["n6"]},
        "n6":{"id":"n6","message":{"id":"n6","author":{"role":"assistant","name":null,"metadata":{}},"create_time":1700000102.0,
              "content":{"content_type":"text","parts":["Norway, for the fjords."]},"status":"finished_successfully","metadata":{}},
              "parent":"n5","children":[]}
      }},
     {"title":"Second","create_time":1700001000.0,"current_node":"m2","mapping":{
        "m1":{"id":"m1","message":{"id":"m1","author":{"role":"user"},"create_time":1700001001.0,"content":{"content_type":"text","parts":["Hi"]},"status":"finished_successfully"},"parent":null,"children":["m2"]},
        "m2":{"id":"m2","message":{"id":"m2","author":{"role":"assistant"},"create_time":1700001002.0,"content":{"content_type":"text","parts":["Hello!"]},"status":"in_progress"},"parent":"m1","children":[]}
     }}]
    """#

    @Test(arguments: TestBackend.available)
    func aChatGPTExportIsImportedWithItsBranches(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let reply = try await api.call("POST", "/v1/sessions/import?format=openai", token: token, json: Self.chatGPTExport)
            #expect(reply.status == 201, "\(reply.text)")
            #expect(reply.items.map { $0["title"] as? String } == ["Trip ideas", "Second"])
            let trip = try #require(reply.items.first?["id"] as? String)
            let tree = try await api.call("GET", "/v1/sessions/\(trip)/tree?include=content", token: token)
            #expect(tree.items.map { $0["content"] as? String } == ["Where should I go in May?", "Lisbon is lovely in May.",
                                                                   "Where should I go in June?", "Norway, for the fjords."])
            #expect(tree.items.map { $0["role"] as? String } == ["user", "assistant", "user", "assistant"])
            let path = try await Self.path(api, token, trip)
            #expect(path.map(\.siblings) == [2, 1], "two versions of the question; current_node's branch is active")
            #expect(path.map(\.index) == [1, 0])
            let items = try await api.call("GET", "/v1/sessions/\(trip)/messages", token: token).items
            #expect(items.first?["content"] as? String == "Norway, for the fjords.")
            #expect(items.first?["created_at"] as? String == "2023-11-14T22:15:02.000Z")
            let second = try #require(reply.items.last?["id"] as? String)
            #expect(try await api.call("GET", "/v1/sessions/\(second)/messages", token: token).items.first?["status"] as? String == "interrupted")
            #expect(try await api.call("POST", "/v1/sessions/import?format=openai", token: token, json: "{\"mapping\":7}").status == 422)
            #expect(try await api.call("POST", "/v1/sessions/import?format=zip", token: token, json: "{}").status == 422)
        }
    }

    /// Every session of an account in one document, or one per line.
    @Test func theAccountExportHoldsEverySessionWithItsTree() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            var sessions: [String] = []
            for i in 0..<3 {
                let session = try await api.newSession(token)
                sessions.append(session)
                _ = try await Self.send(api, token, session, "message \(i) mock:tokens=1 mock:delay=0")
            }
            _ = try await api.newSession(token)
            let document = try await api.call("GET", "/v1/users/me/export", token: token)
            #expect(document.status == 200)
            #expect(document.headers["content-disposition"]?.hasPrefix("attachment;") == true)
            let exported = try #require(document.json["sessions"] as? [[String: any Sendable]])
            #expect(exported.count == 4)
            let ids = Set(exported.compactMap { ($0["session"] as? [String: any Sendable])?["id"] as? String })
            #expect(ids.isSuperset(of: sessions))
            #expect(exported.map { ($0["messages"] as? [Any])?.count ?? -1 }.sorted() == [0, 2, 2, 2])
            let lines = try await api.call("GET", "/v1/users/me/export?format=jsonl", token: token)
            #expect(lines.headers["content-type"] == "application/jsonl")
            #expect(lines.text.split(separator: "\n").count == 4)
            // It imports back, every session.
            let restored = try await api.call("POST", "/v1/sessions/import", token: token, json: document.text)
            #expect(restored.status == 201, "\(restored.text)")
            #expect(restored.items.count == 4)
        }
    }
}
