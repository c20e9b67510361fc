import ChatCore
import ChatCoreTesting
import Foundation
import Storage
import StorageTesting
import Testing

/// Searching one's messages and reading usage with its cost, over HTTP on SQLite (FTS5) and
/// PostgreSQL (full text): never another user's messages, ranked and paged, user text never
/// read as query syntax; usage per UTC day and model, and for administrators per user.
@Suite(.timeLimit(.minutes(5))) struct ReportAPITests {
    /// Sends `content`; the mock answers with the sampling parameters, none of the words.
    @discardableResult
    static func send(_ api: APIHarness, _ token: String, _ session: String, _ content: String) async throws -> Reply {
        let reply = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token,
                                       json: #"{"content":"\#(content) mock:echo=params mock:delay=0"}"#)
        #expect(reply.status == 200, "\(reply.text)")
        return reply
    }

    static func session(_ api: APIHarness, _ token: String, _ title: String) async throws -> String {
        try #require(try await api.call("POST", "/v1/sessions", token: token, json: #"{"title":"\#(title)","model":"mock-model"}"#)["id"])
    }

    static func search(_ api: APIHarness, _ token: String, _ q: String, extra: String = "") async throws -> Reply {
        try await api.call("GET", "/v1/search?q=\(q.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? q)\(extra)", token: token)
    }

    static func userID(_ reply: Reply) throws -> User.ID {
        let text = try #require(reply.user["id"] as? String, "\(reply.text)")
        return try #require(User.ID(text))
    }

    /// The reply's JSON with numbers as they are (the harness's reply keeps whole numbers only).
    static func document(_ reply: Reply) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(reply.text.utf8)) as? [String: Any])
    }

    @Test(arguments: TestBackend.available)
    func searchFindsTheCallersMessagesOnlyRankedAndPaged(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let ann = try #require(try await api.register("ann@example.org")["access_token"])
            let bob = try #require(try await api.register("bob@example.org")["access_token"])
            let baking = try await Self.session(api, ann, "Baking")
            try await Self.send(api, ann, baking, "My sourdough starter needs feeding twice a day")
            try await Self.send(api, ann, baking, "Sourdough, sourdough, sourdough!")
            let garden = try await Self.session(api, ann, "Garden")
            try await Self.send(api, ann, garden, "The tomatoes need more sun")
            let secret = try await Self.session(api, bob, "Bob's")
            try await Self.send(api, bob, secret, "Bob's secret sourdough recipe")

            let found = try await Self.search(api, ann, "sourdough")
            #expect(found.status == 200, "\(found.text)")
            #expect(found.items.count == 2, "\(found.text)")
            #expect(found.items.allSatisfy { $0["session_id"] as? String == baking && $0["session_title"] as? String == "Baking" })
            #expect((found.items.first?["snippet"] as? String)?.hasPrefix("Sourdough, sourdough, sourdough!") == true,
                    "the message saying it three times ranks first: \(found.text)")
            #expect(found.items.allSatisfy { $0["role"] as? String == "user" && $0["message_id"] is String && $0["created_at"] is String })
            #expect(found.json["next_cursor"] is JSONNull)
            // Bob finds only his own.
            let bobs = try await Self.search(api, bob, "sourdough")
            #expect(bobs.items.map { $0["session_id"] as? String } == [secret])

            // Stemming: "feeds" finds "feeding"; a phrase must appear as written; every term must appear.
            #expect(try await Self.search(api, ann, "feeds").items.count == 1)
            #expect(try await Self.search(api, ann, #""starter needs""#).items.count == 1)
            #expect(try await Self.search(api, ann, #""needs starter""#).items.isEmpty)
            #expect(try await Self.search(api, ann, "tomatoes sourdough").items.isEmpty)
            #expect(try await Self.search(api, ann, "TOMATO").items.map { $0["session_id"] as? String } == [garden])

            // Query syntax of either database is plain text here: never an error.
            for q in [#"sourdough OR NEAR(x"#, "sour* AND NOT ^bread", "-x:y (z", #"tomatoes""#, "a'b;--", "content:sun", "sun & | !"] {
                let reply = try await Self.search(api, ann, q)
                #expect(reply.status == 200, "\(q): \(reply.text)")
            }

            // Pages of one.
            let first = try await Self.search(api, ann, "sourdough", extra: "&limit=1")
            let cursor = try #require(first["next_cursor"])
            let second = try await Self.search(api, ann, "sourdough", extra: "&limit=1&cursor=\(cursor)")
            #expect(first.items.count == 1 && second.items.count == 1)
            #expect(first.items.first?["message_id"] as? String != second.items.first?["message_id"] as? String)
            #expect(second.json["next_cursor"] is JSONNull)

            // Bad input names what is wrong.
            for (path, field) in [("/v1/search", "q"), ("/v1/search?q=%20%2A%20", "q"), ("/v1/search?q=\(String(repeating: "a", count: 201))", "q"),
                                  ("/v1/search?q=x&limit=0", "limit"), ("/v1/search?q=x&cursor=bm90LWEtY3Vyc29y", "cursor"),
                                  ("/v1/search?q=\(Array(repeating: "w", count: 17).joined(separator: "+"))", "q")] {
                let reply = try await api.call("GET", path, token: ann)
                #expect(reply.status == 422, "\(path): \(reply.text)")
                #expect(reply.text.contains(#""field":"\#(field)""#), "\(path): \(reply.text)")
            }
            #expect(try await api.call("GET", "/v1/search?q=x").status == 401)

            // Deleting a session takes its messages out of the index; new messages are found
            // with their own words (SQLite reuses the deleted rows' ids).
            #expect(try await api.call("DELETE", "/v1/sessions/\(baking)", token: ann).status == 204)
            #expect(try await Self.search(api, ann, "sourdough").items.isEmpty)
            let again = try await Self.session(api, ann, "Again")
            try await Self.send(api, ann, again, "Rye loaves")
            #expect(try await Self.search(api, ann, "sourdough").items.isEmpty)
            #expect(try await Self.search(api, ann, "rye").items.map { $0["session_id"] as? String } == [again])
        }
    }

    /// A branch off the active path is found too, and an answer is found once it has ended.
    @Test(arguments: TestBackend.available)
    func answersAndOtherBranchesAreFound(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let ann = try #require(try await api.register("ann@example.org")["access_token"])
            let id = try await Self.session(api, ann, "Echo")
            let first = try await api.call("POST", "/v1/sessions/\(id)/messages", token: ann, json: #"{"content":"parrots talk mock:echo=context mock:delay=0"}"#)
            let edited = try await api.call("POST", "/v1/sessions/\(id)/messages", token: ann,
                                            json: #"{"content":"ravens talk mock:echo=context mock:delay=0","parent_id":null}"#)
            #expect(first.status == 200 && edited.status == 200)
            let parrots = try await Self.search(api, ann, "parrots")
            // The first user message (now off the active path) and the answer that echoed it.
            #expect(Set(parrots.items.compactMap { $0["role"] as? String }) == ["user", "assistant"], "\(parrots.text)")
        }
    }

    @Test(arguments: TestBackend.available)
    func usageHistoryPerDayAndModelWithCosts(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend, prices: ["mock": ModelPrice(inputPerMillion: 1.5, outputPerMillion: 6)]) { api in
            let annReply = try await api.register("ann@example.org")
            let ann = try #require(annReply["access_token"])
            let annID = try Self.userID(annReply)
            let bobReply = try await api.register("bob@example.org")
            let bobID = try Self.userID(bobReply)
            let usage = SQLUsageRepository(database: api.database)
            let now = api.clock.now()
            func record(_ user: User.ID, _ model: String, _ prompt: Int, _ completion: Int, daysAgo: Int) async throws {
                try await usage.record(UsageEvent(id: UsageEvent.ID(UUID()), userID: user, sessionID: nil, model: model,
                                                  usage: TokenUsage(promptTokens: prompt, completionTokens: completion), latencyMilliseconds: 5,
                                                  at: now.addingTimeInterval(-86_400 * Double(daysAgo))))
            }
            try await record(annID, "mock", 1000, 500, daysAgo: 0)
            try await record(annID, "mock", 2000, 1000, daysAgo: 2)
            try await record(annID, "other-model", 300, 30, daysAgo: 2)
            try await record(annID, "mock", 9999, 9999, daysAgo: 3)  // outside days=3
            try await record(bobID, "mock", 7777, 7777, daysAgo: 0)  // someone else's

            let reply = try await api.call("GET", "/v1/usage/history?days=3", token: ann)
            #expect(reply.status == 200, "\(reply.text)")
            let history = try Self.document(reply)
            let days = try #require(history["days"] as? [[String: Any]])
            let today = String(ISO8601DateFormatter().string(from: now).prefix(10))
            let twoDaysAgo = String(ISO8601DateFormatter().string(from: now.addingTimeInterval(-2 * 86_400)).prefix(10))
            #expect(days.compactMap { $0["date"] as? String }.count == 3)
            #expect(days.first?["date"] as? String == twoDaysAgo && days.last?["date"] as? String == today)
            #expect(history["from"] as? String == twoDaysAgo && history["to"] as? String == today && history["currency"] as? String == "USD")
            let oldest = try #require(days.first)
            let models = try #require(oldest["models"] as? [[String: Any]])
            #expect(models.compactMap { $0["model"] as? String } == ["mock", "other-model"])
            #expect(models.first?["prompt_tokens"] as? Int == 2000 && models.first?["completion_tokens"] as? Int == 1000)
            #expect(models.first?["cost"] as? Double == 0.009, "2000 × 1.5 + 1000 × 6 per million")
            #expect(models.last?["cost"] is NSNull, "a model without a price has no cost")
            let oldestTotal = try #require(oldest["total"] as? [String: Any])
            #expect(oldestTotal["answers"] as? Int == 2 && oldestTotal["prompt_tokens"] as? Int == 2300)
            #expect(oldestTotal["cost"] as? Double == 0.009, "the priced models' sum")
            let quiet = try #require(days.dropFirst().first)
            #expect((quiet["models"] as? [Any])?.isEmpty == true && (quiet["total"] as? [String: Any])?["cost"] is NSNull)
            let total = try #require(history["total"] as? [String: Any])
            #expect(total["answers"] as? Int == 3 && total["prompt_tokens"] as? Int == 3300 && total["completion_tokens"] as? Int == 1530)
            #expect(total["cost"] as? Double == 0.0135)

            // A turn is recorded under today.
            let session = try #require(try await api.call("POST", "/v1/sessions", token: ann, json: #"{"model":"mock"}"#)["id"])
            let sent = try await Self.send(api, ann, session, "hello")
            let answerUsage = try #require((sent.json["message"] as? [String: any Sendable])?["usage"] as? [String: any Sendable])
            let after = try Self.document(try await api.call("GET", "/v1/usage/history?days=1", token: ann))
            let todayModels = try #require((after["days"] as? [[String: Any]])?.first?["models"] as? [[String: Any]])
            #expect(todayModels.first?["answers"] as? Int == 2)
            #expect(todayModels.first?["completion_tokens"] as? Int == 500 + (try #require(answerUsage["completion_tokens"] as? Int)))

            for path in ["/v1/usage/history?days=0", "/v1/usage/history?days=367", "/v1/usage/history?days=x"] {
                let bad = try await api.call("GET", path, token: ann)
                #expect(bad.status == 422 && bad.text.contains(#""field":"days""#), "\(path): \(bad.text)")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func administratorsSeeEveryonesUsagePerUserAndModel(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend, prices: ["mock": ModelPrice(inputPerMillion: 1, outputPerMillion: 2)]) { api in
            let annReply = try await api.register("ann@example.org")
            let ann = try #require(annReply["access_token"])
            let annID = try Self.userID(annReply)
            let guestReply = try await api.call("POST", "/v1/auth/guest")
            let guestID = try Self.userID(guestReply)
            _ = try await CreateUser(api.deps)(email: "root@example.org", password: "root password", role: .admin)
            let admin = try #require(try await api.call("POST", "/v1/auth/login", json: #"{"email":"root@example.org","password":"root password"}"#)["access_token"])
            let usage = SQLUsageRepository(database: api.database)
            let now = api.clock.now()
            for (user, model, prompt, completion, daysAgo) in [(annID, "mock", 100, 50, 0), (annID, "mock", 100, 50, 1), (annID, "other-model", 10, 10, 0),
                                                               (guestID, "mock", 1000, 1000, 0), (annID, "mock", 5, 5, 40)] {
                try await usage.record(UsageEvent(id: UsageEvent.ID(UUID()), userID: user, sessionID: nil, model: model,
                                                  usage: TokenUsage(promptTokens: prompt, completionTokens: completion), latencyMilliseconds: 1,
                                                  at: now.addingTimeInterval(-86_400 * Double(daysAgo))))
            }
            #expect(try await api.call("GET", "/v1/admin/usage", token: ann).status == 403)

            let reply = try await api.call("GET", "/v1/admin/usage", token: admin)
            #expect(reply.status == 200, "\(reply.text)")
            let report = try Self.document(reply)
            let items = try #require(report["items"] as? [[String: Any]])
            // The heaviest first; the guest has no e-mail; the event 40 days ago is outside the default 30 days.
            #expect(items.count == 3, "\(reply.text)")
            #expect(items.first?["user_id"] as? String == guestID.description && items.first?["email"] is NSNull)
            #expect(items.first?["cost"] as? Double == 0.003)
            #expect(items.dropFirst().first?["email"] as? String == "ann@example.org")
            #expect(items.dropFirst().first?["answers"] as? Int == 2 && items.dropFirst().first?["prompt_tokens"] as? Int == 200)
            #expect(items.last?["model"] as? String == "other-model" && items.last?["cost"] is NSNull)
            let total = try #require(report["total"] as? [String: Any])
            #expect(total["answers"] as? Int == 4 && total["prompt_tokens"] as? Int == 1210 && total["cost"] as? Double == 0.0034, "(1200 × 1 + 1100 × 2) per million")
            #expect((report["models"] as? [[String: Any]])?.compactMap { $0["model"] as? String } == ["mock", "other-model"])

            // A period of days, both included, and pages.
            let today = String(ISO8601DateFormatter().string(from: now).prefix(10))
            let yesterday = String(ISO8601DateFormatter().string(from: now.addingTimeInterval(-86_400)).prefix(10))
            let one = try Self.document(try await api.call("GET", "/v1/admin/usage?from=\(yesterday)&to=\(yesterday)", token: admin))
            #expect((one["items"] as? [[String: Any]])?.map { $0["prompt_tokens"] as? Int } == [100])
            let page = try await api.call("GET", "/v1/admin/usage?limit=2", token: admin)
            let cursor = try #require(page["next_cursor"])
            let rest = try await api.call("GET", "/v1/admin/usage?limit=2&cursor=\(cursor)", token: admin)
            #expect(page.items.count == 2 && rest.items.count == 1 && rest.json["next_cursor"] is JSONNull)

            for (query, field) in [("from=2026-02-30", "from"), ("to=yesterday", "to"), ("from=\(today)&to=\(yesterday)", "from"),
                                   ("from=2020-01-01&to=2026-01-01", "from"), ("limit=501", "limit")] {
                let bad = try await api.call("GET", "/v1/admin/usage?\(query)", token: admin)
                #expect(bad.status == 422 && bad.text.contains(#""field":"\#(field)""#), "\(query): \(bad.text)")
            }
        }
    }
}
