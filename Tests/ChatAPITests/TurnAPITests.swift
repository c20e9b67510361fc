import HTTPClient
import ChatCore
import ChatCoreTesting
import Foundation
import HTTPServer
import HTTPServerTesting
import LLMProviders
import MockLLM
import Storage
import StorageTesting
import Testing

/// Sending messages and reading answers over real HTTP, against the mock upstream over HTTP.
@Suite(.timeLimit(.minutes(5))) struct TurnAPITests {
    /// Every token event's id is the byte length so far, the deltas add up to the stored
    /// answer, and the turn is saved, titled and charged.
    @Test(arguments: TestBackend.available)
    func streamedTurnIsCheckedEventByEvent(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            var stream = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                              json: #"{"content":"Plan a trip to Kyōto ✈️ mock:tokens=12 mock:delay=5"}"#)
            #expect(stream.status == 200)
            #expect(stream.headers["content-type"] == "text/event-stream; charset=utf-8")
            #expect(stream.headers["cache-control"] == "no-cache")
            #expect(stream.headers["x-accel-buffering"] == "no")
            let events = try await stream.rest()

            let start = try #require(events.first)
            #expect(start.event == "start")
            let user = try #require(start.json["user_message"] as? [String: Any])
            #expect(user["content"] as? String == "Plan a trip to Kyōto ✈️ mock:tokens=12 mock:delay=5")
            #expect(user["role"] as? String == "user")
            let assistantID = try #require(start.json["assistant_message_id"] as? String)

            // Deltas that arrive while a reader is busy reach it as one event, so the number of
            // events may be lower than the upstream's; the bytes are what must match.
            let tokens = events.filter { $0.event == "token" }
            #expect(!tokens.isEmpty && tokens.count <= 12)
            var delivered = ""
            for token in tokens {
                delivered += try #require(token.delta)
                #expect(token.id == String(delivered.utf8.count), "id is the byte offset after the delta")
            }
            let done = try #require(events.last)
            #expect(done.event == "done")
            #expect(done.message["id"] as? String == assistantID)
            #expect(done.message["content"] as? String == delivered)
            #expect(done.message["status"] as? String == "complete")
            #expect(done.message["finish_reason"] as? String == "stop")
            let usage = try #require(done.message["usage"] as? [String: Any])
            #expect(usage["completion_tokens"] as? Int == 12)
            #expect(usage["estimated"] as? Bool == false)
            #expect(delivered == MockUpstream.replyTokens(for: "Plan a trip to Kyōto ✈️ mock:tokens=12 mock:delay=5", count: 12).joined())
            #expect(events.count == tokens.count + 2)

            let history = try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items
            #expect(history.map { $0["role"] as? String } == ["assistant", "user"])
            #expect(history.first?["content"] as? String == delivered)
            #expect(try await api.call("GET", "/v1/sessions/\(session)", token: token)["title"] == "Plan a trip to Kyōto ✈️ mock:tokens=12 mock:delay=5")
            let charged = try await api.database.query("SELECT completion_tokens, estimated FROM usage_events", [])
            #expect(charged.count == 1)
            #expect(try charged.first?.int("completion_tokens") == 12)
        }
    }

    /// Without `Accept: text/event-stream` the answer comes as one JSON document at the end;
    /// an upstream that sends no usage is charged an estimate, marked so.
    /// A reader told that a turn ended may send the next message at once: the session is free
    /// by then. (The registry used to let go of it just after telling the readers, and a client
    /// that answered `done` with its next message quickly enough got a 409.)
    @Test(arguments: TestBackend.available)
    func aReaderToldTheEndFindsTheSessionFree(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let registered = try await api.register("ann@example.org")
            let token = try #require(registered["access_token"])
            let idText = try #require(registered.user["id"] as? String)
            let userID = try #require(User.ID(idText))
            let principal = Principal(user: try #require(try await api.deps.users.find(id: userID)), credential: .accessToken)
            let session = try #require(ChatSession.ID(try await api.newSession(token)))
            for round in 0..<200 {
                var ticket = try await SendMessage(api.turns)(principal, sessionID: session,
                                                             SendMessageCommand(content: "round \(round) mock:tokens=1 mock:delay=0"))
                while true {
                    if case .ended = await ticket.follower.next() { break }
                }
                #expect(!api.turns.chat.turns.holds(session: session), "round \(round): the session was still held after its end was told")
            }
        }
    }

    @Test(arguments: TestBackend.available)
    func jsonModeAnswersAfterCompletion(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let reply = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token,
                                           json: #"{"content":"one two three mock:tokens=6 mock:delay=1 mock:usage=off"}"#)
            #expect(reply.status == 200)
            let message = try #require(reply.json["message"] as? [String: any Sendable])
            #expect(message["status"] as? String == "complete")
            let expected = "one two three mock:tokens=6 mock:delay=1 mock:usage=off "
            #expect(message["content"] as? String == expected)
            let usage = try #require(message["usage"] as? [String: any Sendable])
            #expect(usage["estimated"] as? Int == 1)
            #expect(usage["completion_tokens"] as? Int == TurnContext.estimatedTokens(expected))
            #expect((reply.json["user_message"] as? [String: any Sendable])?["role"] as? String == "user")
            let charged = try await api.database.query("SELECT estimated FROM usage_events", [])
            #expect(try charged.first?.bool("estimated") == true)
        }
    }

    /// Upstream failures end the stream with an `error` event; what was generated is kept
    /// and the message is `failed`.
    @Test(arguments: [("mock:fail=500", "upstream_error", 0), ("mock:fail=stall", "upstream_timeout", 0),
                      ("mock:fail=drop mock:tokens=10", "upstream_error", 5)])
    func upstreamFailureEndsTheTurnFailed(_ directive: String, _ code: String, _ tokensBefore: Int) async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let events = try await api.send("go \(directive) mock:delay=5", session: token == "" ? "" : session, token: token)
            let error = try #require(events.last)
            #expect(error.event == "error")
            #expect(error.json["code"] as? String == code)
            #expect((error.json["message"] as? String)?.isEmpty == false)
            #expect(!error.data.contains("sk-test-key"))
            let delivered = events.compactMap(\.delta).joined()
            #expect(delivered.split(separator: " ").count == tokensBefore)
            let stored = try #require(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.first)
            #expect(stored["status"] as? String == "failed")
            #expect(stored["content"] as? String == delivered)
        }
    }

    /// The same failure in JSON mode is an error status naming the saved message.
    @Test func jsonModeUpstreamFailureIsABadGateway() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let reply = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"mock:fail=500"}"#)
            #expect(reply.status == 502)
            #expect(reply["code"] == "upstream_error")
            #expect(reply["detail"]?.contains("saved as message") == true)
        }
    }

    /// A 429 with `Retry-After` before the first token is waited out and retried.
    @Test func rateLimitedUpstreamIsRetried() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let events = try await api.send("retry me mock:fail=429 mock:fail-times=1 mock:tokens=3 mock:delay=1", session: session, token: token)
            #expect(events.last?.event == "done")
            #expect(events.last?.message["status"] as? String == "complete")
            #expect(events.compactMap(\.delta).joined().split(separator: " ").count == 3)
        }
    }

    /// A reader that leaves mid-stream does not stop the answer; resuming from its last event
    /// id gives exactly the missing bytes, live and after the end.
    @Test(arguments: TestBackend.available)
    func disconnectDoesNotStopTheTurnAndResumeFillsTheGap(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            var first = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                             json: #"{"content":"résumé ünïcode mock:tokens=40 mock:delay=15"}"#)
            let assistantID = try #require(try await first.next()?.json["assistant_message_id"] as? String)
            var seen = ""
            var lastID = "0"
            for _ in 0..<5 {
                let event = try #require(try await first.next())
                seen += try #require(event.delta)
                lastID = try #require(event.id)
            }
            _ = consume first  // the client goes away

            var resumed = try await api.stream("GET", "/v1/sessions/\(session)/messages/\(assistantID)/events", token: token,
                                               headers: [("Last-Event-ID", lastID)])
            #expect(resumed.status == 200)
            let rest = try await resumed.rest()
            #expect(rest.first?.event == "token")
            #expect(rest.last?.event == "done")
            let whole = seen + rest.compactMap(\.delta).joined()
            let stored = try #require(rest.last?.message["content"] as? String)
            #expect(whole == stored)
            #expect(rest.last?.message["status"] as? String == "complete")
            #expect(stored.split(separator: " ").count == 40)

            // After the end: a replay from any boundary, then `done`.
            var replay = try await api.stream("GET", "/v1/sessions/\(session)/messages/\(assistantID)/events?after=\(lastID)", token: token)
            let replayed = try await replay.rest()
            #expect(replayed.count == 2)
            #expect(seen + (replayed.first?.delta ?? "") == stored)
            #expect(replayed.first?.id == String(stored.utf8.count))

            // An offset inside a UTF-8 sequence, or not a number, is refused before streaming.
            let inside = Array(stored.utf8).firstIndex(of: 0xC3).map { $0 + 1 } ?? 1
            for bad in ["\(inside)", "-1", "abc"] {
                let reply = try await api.call("GET", "/v1/sessions/\(session)/messages/\(assistantID)/events", token: token,
                                               headers: [("Last-Event-ID", bad)])
                #expect(reply.status == 422, "Last-Event-ID \(bad)")
            }
            // Past the end (a reader that was sent more than was saved before a crash): the
            // stored answer's `done`, saying where it ends, not an error.
            var beyond = try await api.stream("GET", "/v1/sessions/\(session)/messages/\(assistantID)/events", token: token,
                                              headers: [("Last-Event-ID", "\(stored.utf8.count + 40)")])
            let events = try await beyond.rest()
            #expect(events.map(\.event) == ["done"])
            #expect(events.first?.json["cut_at"] as? Int == stored.utf8.count)
        }
    }

    /// Two readers of one live turn see the same content.
    @Test func severalReadersFollowOneTurn() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            var sender = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                              json: #"{"content":"shared mock:tokens=20 mock:delay=10"}"#)
            let assistantID = try #require(try await sender.next()?.json["assistant_message_id"] as? String)
            var follower = try await api.stream("GET", "/v1/sessions/\(session)/messages/\(assistantID)/events", token: token)
            async let fromFollower = follower.rest()
            let fromSender = try await sender.rest()
            let followed = try await fromFollower
            #expect(fromSender.compactMap(\.delta).joined() == followed.compactMap(\.delta).joined())
            #expect(followed.last?.event == "done")
        }
    }

    /// Stop cancels the upstream transfer at once and saves the partial answer `interrupted`.
    @Test(arguments: TestBackend.available)
    func stopCancelsTheUpstreamAndKeepsThePartialAnswer(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            var stream = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                              json: #"{"content":"long answer mock:tokens=1000 mock:delay=20"}"#)
            _ = try await stream.next()
            var seen = ""
            for _ in 0..<3 { seen += try #require(try await stream.next()?.delta) }
            #expect(api.upstream.openConnectionCount == 1)

            let stopped = try await api.call("POST", "/v1/sessions/\(session)/stop", token: token)
            #expect(stopped.status == 200)
            let message = try #require(stopped.json["message"] as? [String: any Sendable])
            #expect(message["status"] as? String == "interrupted")
            let content = try #require(message["content"] as? String)
            #expect(content.hasPrefix(seen))
            let upstream = api.upstream
            #expect(await eventually(timeout: .seconds(1)) { upstream.openConnectionCount == 0 }, "the upstream saw its connection closed")

            let rest = try await stream.rest()
            #expect(rest.last?.event == "done")
            #expect(seen + rest.compactMap(\.delta).joined() == content)
            #expect(try await api.call("POST", "/v1/sessions/\(session)/stop", token: token).status == 409)
            let stored = try #require(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.first)
            #expect(stored["status"] as? String == "interrupted")
            #expect(stored["content"] as? String == content)
        }
    }

    /// A retried send with the same `Idempotency-Key` joins the first turn: one user message,
    /// one answer, one charge. Another body with that key is refused.
    @Test(arguments: TestBackend.available)
    func idempotencyKeyMakesARetryJoinTheFirstTurn(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let key = [("Idempotency-Key", "retry-7c1e")]
            async let first = api.send("once only mock:tokens=8 mock:delay=5", session: session, token: token, headers: key)
            async let second = api.send("once only mock:tokens=8 mock:delay=5", session: session, token: token, headers: key)
            let (a, b) = try await (first, second)
            #expect(a.first?.json["assistant_message_id"] as? String == b.first?.json["assistant_message_id"] as? String)
            #expect(a.compactMap(\.delta).joined() == b.compactMap(\.delta).joined())
            let third = try await api.send("once only mock:tokens=8 mock:delay=5", session: session, token: token, headers: key)
            #expect(third.last?.message["id"] as? String == a.first?.json["assistant_message_id"] as? String)

            let history = try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items
            #expect(history.count == 2)
            #expect(try await api.database.query("SELECT id FROM usage_events", []).count == 1)

            let reused = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"something else"}"#,
                                            headers: key)
            #expect(reused.status == 422)
            #expect(reused.text.contains("Idempotency-Key"))
        }
    }

    /// Bad sends are refused before anything is stored, with the reason.
    @Test func badSendsAreRefusedWithTheReason() async throws {
        try await APIHarness.with(.sqlite, settings: { $0.maxMessageLength = 50 }) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            let path = "/v1/sessions/\(session)/messages"
            let tooLong = try await api.call("POST", path, token: token, json: #"{"content":"\#(String(repeating: "é", count: 51))"}"#)
            #expect(tooLong.status == 422)
            #expect(tooLong["detail"] == "content must be at most 50 characters (it has 51)")
            #expect(try await api.call("POST", path, token: token, json: #"{"content":"  \n "}"#)["detail"] == "content must not be empty")
            #expect(try await api.call("POST", path, token: token, json: #"{"content":"hi","model":"nope"}"#).status == 422)
            #expect(try await api.call("POST", path, token: token, json: #"{"content":"hi","temperature":3}"#)["detail"] == "temperature must be from 0 to 2")
            #expect(try await api.call("POST", path, token: token, json: #"{"text":"hi"}"#)["detail"] == "content is required")
            #expect(try await api.call("POST", path, token: token, json: #"{"content":"hi"}"#, headers: [("Idempotency-Key", "")]).status == 422)
            #expect(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.isEmpty)
        }
    }

    /// Deleting a session stops its answer; the turn is still charged.
    @Test(arguments: TestBackend.available)
    func deletingASessionStopsItsAnswer(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            var stream = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                              json: #"{"content":"doomed mock:tokens=1000 mock:delay=10"}"#)
            _ = try await stream.next()
            _ = try await stream.next()
            #expect(try await api.call("DELETE", "/v1/sessions/\(session)", token: token).status == 204)
            let rest = try await stream.rest()
            #expect(rest.last?.event == "done")
            #expect(rest.last?.message["status"] as? String == "interrupted")
            let charged = try await api.database.query("SELECT session_id FROM usage_events", [])
            #expect(charged.count == 1)
            #expect(charged.first?["session_id"] == nil)
        }
    }

    /// One answer at a time per session: a send while one is generated is a 409.
    @Test func aSecondSendWhileAnswering409s() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            var stream = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token,
                                              json: #"{"content":"first mock:tokens=30 mock:delay=10"}"#)
            _ = try await stream.next()
            let second = try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"second"}"#)
            #expect(second.status == 409)
            #expect(second["code"] == "turn_in_progress")
            #expect(try await stream.rest().last?.event == "done")
            #expect(try await api.call("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"second mock:tokens=2"}"#).status == 200)
        }
    }

    /// The context sent upstream is the project's prompts, then the latest messages.
    @Test func contextHasTheProjectPromptsThenTheLatestMessages() async throws {
        let prompts = [Prompt(id: Prompt.ID(UUID()), projectID: Project.ID(UUID()), text: "second", position: 2, createdAt: Date()),
                       Prompt(id: Prompt.ID(UUID()), projectID: Project.ID(UUID()), text: "first", position: 1, createdAt: Date())]
        let history = (1...6).map { i in
            Message(id: Message.ID(UUID()), sessionID: ChatSession.ID(UUID()), position: i, role: i % 2 == 1 ? .user : .assistant,
                    content: i == 4 ? "" : String(repeating: "x", count: 400), status: .complete, createdAt: Date(), updatedAt: Date())
        }
        let context = TurnContext.build(prompts: prompts, history: history, maxMessages: 4, maxTokens: 10_000)
        #expect(context.map(\.content.count) == [5, 6, 400, 400, 400, 400])
        #expect(context.map(\.role) == [.system, .system, .assistant, .user, .user, .assistant])
        // Over the token budget the oldest go first; the newest always stays.
        #expect(TurnContext.build(prompts: [], history: history, maxMessages: 4, maxTokens: 250).count == 2)
        #expect(TurnContext.build(prompts: [], history: history, maxMessages: 4, maxTokens: 1).count == 1)
        // The prompts count in the budget: a long prompt leaves room for fewer messages.
        let long = [Prompt(id: Prompt.ID(UUID()), projectID: Project.ID(UUID()), text: String(repeating: "p", count: 800), position: 0, createdAt: Date())]
        #expect(TurnContext.build(prompts: long, history: history, maxMessages: 4, maxTokens: 450).map(\.content.count) == [800, 400, 400])
    }

    /// Many streams at once each get every token, in order.
    @Test func twoHundredConcurrentStreamsAllComplete() async throws {
        // What is tested is delivery, not the upstream's timeouts: with the parallel suites on two
        // cores, one stream in 200 once waited more than the harness's usual second for a token.
        try await APIHarness.with(.sqlite, upstreamPatience: .seconds(15)) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            var sessions: [String] = []
            for _ in 0..<200 { sessions.append(try await api.newSession(token)) }
            let results = try await withThrowingTaskGroup(of: (String, [StreamEvent]).self) { group in
                for (i, session) in sessions.enumerated() {
                    group.addTask { (session, try await api.send("n\(i) mock:tokens=20 mock:delay=20", session: session, token: token)) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(results.count == 200)
            for (session, events) in results {
                let content = events.compactMap(\.delta).joined()
                let sent = try #require(events.first?.json["user_message"] as? [String: Any])["content"] as? String ?? ""
                #expect(content == MockUpstream.replyTokens(for: sent, count: 20).joined(), "every token, in order: session \(session)")
                #expect(events.last?.event == "done", "session \(session) ended with \(events.last?.data ?? "nothing")")
                #expect(events.last?.message["content"] as? String == content)
            }
        }
    }
}

/// Reading turns that are not live here, keep-alives, and what is built from a history.
@Suite(.timeLimit(.minutes(5))) struct TurnFollowAndHistoryTests {
    /// While nothing arrives, the stream carries a comment every keep-alive interval.
    @Test func idleStreamGetsKeepAliveComments() async throws {
        try await APIHarness.with(.sqlite, settings: { $0.keepAliveInterval = .milliseconds(200) }) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            var stream = try await api.stream("POST", "/v1/sessions/\(session)/messages", token: token, json: #"{"content":"mock:fail=stall"}"#)
            let events = try await stream.rest()
            #expect(events.last?.json["code"] as? String == "upstream_timeout")
            let text = String(decoding: stream.raw, as: UTF8.self)
            #expect(text.components(separatedBy: ": keep-alive\n\n").count - 1 >= 2)
        }
    }

    /// Other instances exist (stops are relayed), so they may be generating what this one is not.
    struct OtherInstances: TurnSignals {
        func broadcastStop(_ session: ChatSession.ID) async throws {}
    }

    /// An answer another instance generates (a `streaming` row with no live turn here) is
    /// followed through its checkpoints until it ends.
    @Test(arguments: TestBackend.available)
    func answerGeneratedElsewhereIsFollowedThroughCheckpoints(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend, settings: { $0.followPollInterval = .milliseconds(50) }, signals: OtherInstances()) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try #require(ChatSession.ID(try await api.newSession(token)))
            let messages = api.turns.chat.messages
            let now = api.clock.now()
            var answer = try await messages.append(Message(id: Message.ID(UUID()), sessionID: session, role: .assistant, content: "Hello, ",
                                                           status: .streaming, createdAt: now, updatedAt: now))
            // Its owner's lease holds: it is alive, elsewhere.
            try await messages.renewLease(of: answer.id, until: now.addingTimeInterval(60))
            var stream = try await api.stream("GET", "/v1/sessions/\(session)/messages/\(answer.id)/events", token: token)
            let first = try #require(try await stream.next())
            #expect(first.delta == "Hello, ")
            #expect(first.id == "7")
            answer.content = "Hello, wörld"
            try await messages.update(answer)
            #expect(try await stream.next()?.delta == "wörld")
            answer.content += "!"
            answer.status = .complete
            try await messages.update(answer)
            let rest = try await stream.rest()
            #expect(rest.map(\.event) == ["token", "done"])
            #expect(rest.last?.message["content"] as? String == "Hello, wörld!")
        }
    }

    /// Alone, a `streaming` row that no turn here holds cannot be finished by anyone: its
    /// reader gets what was saved and `done` at once, a stop ends it, and it is charged
    /// (estimated), instead of keep-alives and 503s forever.
    @Test(arguments: TestBackend.available)
    func anOrphanedAnswerEndsAtOnceForItsReaderAndItsStop(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try #require(ChatSession.ID(try await api.newSession(token)))
            let messages = api.turns.chat.messages
            let now = api.clock.now()
            func orphan(_ text: String) async throws -> Message {
                try await messages.append(Message(id: Message.ID(UUID()), sessionID: session, role: .assistant, content: text,
                                                  status: .streaming, createdAt: now, updatedAt: now))
            }
            let read = try await orphan("left by a crash")
            var stream = try await api.stream("GET", "/v1/sessions/\(session)/messages/\(read.id)/events", token: token)
            let events = try await stream.rest()
            #expect(events.map(\.event) == ["token", "done"])
            #expect(events.last?.message["status"] as? String == "interrupted")
            #expect(try await messages.find(id: read.id, sessionID: session)?.status == .interrupted)

            let stopped = try await orphan("also left")
            let stop = try await api.call("POST", "/v1/sessions/\(session)/stop", token: token)
            #expect(stop.status == 200)
            let stoppedMessage = stop.json["message"] as? [String: any Sendable]
            #expect(stoppedMessage?["status"] as? String == "interrupted")
            #expect(stoppedMessage?["id"] as? String == stopped.id.description)
            let usage = try await api.database.query("SELECT completion_tokens, estimated FROM usage_events", [])
            #expect(usage.count == 2, "both orphans were charged")
            #expect(usage.allSatisfy { (try? $0.bool("estimated")) == true && (try? $0.int("completion_tokens")) ?? 0 > 0 })
        }
    }

    @Test(arguments: TestBackend.available)
    func forkCopiesTheHistoryUpToAMessage(_ backend: TestBackend) async throws {
        try await APIHarness.with(backend) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            _ = try await api.send("first question mock:tokens=2 mock:delay=1", session: session, token: token)
            _ = try await api.send("second question mock:tokens=2 mock:delay=1", session: session, token: token)
            let history = try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.reversed().map { $0 }
            #expect(history.count == 4)
            let cut = try #require(history[1]["id"] as? String)

            let fork = try await api.call("POST", "/v1/sessions/\(session)/fork", token: token, json: #"{"message_id":"\#(cut)"}"#)
            #expect(fork.status == 201)
            #expect(fork["title"] == "first question mock:tokens=2 mock:delay=1 (fork)")
            #expect(fork["model"] == "mock-model")
            let forkID = try #require(fork["id"])
            let copied = try await api.call("GET", "/v1/sessions/\(forkID)/messages", token: token).items.reversed().map { $0 }
            #expect(copied.map { $0["content"] as? String } == history.prefix(2).map { $0["content"] as? String })
            #expect(Set(copied.compactMap { $0["id"] as? String }).isDisjoint(with: history.compactMap { $0["id"] as? String }))
            // The fork goes on by itself; the original is untouched.
            _ = try await api.send("in the fork mock:tokens=1 mock:delay=1", session: forkID, token: token)
            #expect(try await api.call("GET", "/v1/sessions/\(forkID)/messages", token: token).items.count == 4)
            #expect(try await api.call("GET", "/v1/sessions/\(session)/messages", token: token).items.count == 4)

            let unknown = try await api.call("POST", "/v1/sessions/\(session)/fork", token: token, json: #"{"message_id":"\#(UUID())"}"#)
            #expect(unknown.status == 404)
            #expect(unknown["detail"] == "message not found")
        }
    }

    @Test func exportAsMarkdownAndJSON() async throws {
        try await APIHarness.with(.sqlite) { api in
            let token = try #require(try await api.register("ann@example.org")["access_token"])
            let session = try await api.newSession(token)
            _ = try await api.send("Why is the sky blue? mock:tokens=3 mock:delay=1", session: session, token: token)
            let markdown = try await api.call("GET", "/v1/sessions/\(session)/export?format=markdown", token: token)
            #expect(markdown.status == 200)
            #expect(markdown.headers["content-type"] == "text/markdown; charset=utf-8")
            #expect(markdown.headers["content-disposition"] == "attachment; filename=\"parley-\(session).md\"")
            #expect(markdown.text.hasPrefix("# Why is the sky blue? mock:tokens=3 mock:delay=1\n"))
            #expect(markdown.text.contains("## User · "))
            #expect(markdown.text.contains("## Assistant · "))
            #expect(markdown.text.hasSuffix("\n\nWhy is the \n"))

            let json = try await api.call("GET", "/v1/sessions/\(session)/export?format=json", token: token)
            #expect((json.json["session"] as? [String: any Sendable])?["id"] as? String == session)
            let messages = try #require(json.json["messages"] as? [[String: any Sendable]])
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant"])
            #expect(try await api.call("GET", "/v1/sessions/\(session)/export?format=pdf", token: token).status == 422)
        }
    }

    /// Another user's session and messages are not found on every turn route.
    @Test func anotherUsersTurnsAreNotFound() async throws {
        try await APIHarness.with(.sqlite) { api in
            let ann = try #require(try await api.register("ann@example.org")["access_token"])
            let bob = try #require(try await api.register("bob@example.org")["access_token"])
            let session = try await api.newSession(ann)
            let events = try await api.send("mine mock:tokens=2 mock:delay=1", session: session, token: ann)
            let answer = try #require(events.last?.message["id"] as? String)
            let user = try #require(events.first?.json["user_message"] as? [String: Any])
            for (method, path, body) in [("POST", "/v1/sessions/\(session)/messages", #"{"content":"hi"}"#),
                                         ("GET", "/v1/sessions/\(session)/messages/\(answer)/events", nil),
                                         ("POST", "/v1/sessions/\(session)/stop", nil),
                                         ("POST", "/v1/sessions/\(session)/fork", #"{"message_id":"\#(answer)"}"#),
                                         ("GET", "/v1/sessions/\(session)/export", nil)] {
                let reply = try await api.call(method, path, token: bob, json: body)
                #expect(reply.status == 404, "\(method) \(path)")
                #expect(reply["detail"] == "session not found")
            }
            // A user message has no event stream.
            let userEvents = try await api.call("GET", "/v1/sessions/\(session)/messages/\(user["id"] as? String ?? "")/events", token: ann)
            #expect(userEvents.status == 404)
        }
    }
}
