import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// Chat turns through the real binaries: `parley serve` talking to `parley mock-llm` over
/// HTTP, driven by curl as a client would, including crashes and shutdown mid-answer.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatProcessTests {
    /// A `parley mock-llm` and a `parley serve` that uses it, on a SQLite file the test names.
    struct Stack {
        let mock: ParleyProcess
        let mockPort: Int
        let databaseURL: String

        init() async throws {
            (mock, mockPort) = try await ParleyProcess.mockUpstream()
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-chat-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            databaseURL = "sqlite://" + folder.appendingPathComponent("parley.db").path
        }

        func serve(_ extra: [String: String] = [:]) async throws -> (ParleyProcess, Int) {
            var environment = ["PORT": "0", "DATABASE_URL": databaseURL, "LLM_BASE_URL": "http://127.0.0.1:\(mockPort)/v1",
                               "LLM_MODEL": "mock-model", "METRICS_TOKEN": ChatProcessTests.metricsToken]
            for (name, value) in extra { environment[name] = value }
            let parley = try ParleyProcess(["serve"], environment: environment)
            return (parley, try await parley.waitForPort())
        }
    }

    /// One request through curl; the JSON body of the answer.
    static func call(_ port: Int, _ method: String, _ path: String, token: String? = nil, json: String? = nil) async throws -> [String: Any] {
        var arguments = ["curl", "-s", "-X", method, "http://127.0.0.1:\(port)\(path)"]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        if let json { arguments += ["-H", "Content-Type: application/json", "-d", json] }
        let result = try await runProcess(arguments)
        return (try? JSONSerialization.jsonObject(with: Data(result.stdout.utf8))) as? [String: Any] ?? [:]
    }

    /// `curl -N` of a send, for at most `seconds`; the events it printed.
    static func streamSend(_ port: Int, token: String, session: String, content: String, seconds: Int = 30) async throws -> [SSE] {
        let body = String(decoding: try JSONEncoder().encode(["content": content]), as: UTF8.self)
        let result = try await runProcess([
            "curl", "-sN", "--max-time", "\(seconds)", "-H", "Authorization: Bearer \(token)", "-H", "Accept: text/event-stream",
            "-H", "Content-Type: application/json", "-d", body, "http://127.0.0.1:\(port)/v1/sessions/\(session)/messages",
        ])
        return SSE.parse(result.stdout)
    }

    static func guestWithSession(_ port: Int) async throws -> (token: String, session: String) {
        let token = try #require(try await call(port, "POST", "/v1/auth/guest")["access_token"] as? String)
        let session = try #require(try await call(port, "POST", "/v1/sessions", token: token)["id"] as? String)
        return (token, session)
    }

    @Test func curlReadsAStreamedTurnEventByEvent() async throws {
        let stack = try await Stack()
        let (parley, port) = try await stack.serve()
        let (token, session) = try await Self.guestWithSession(port)
        let events = try await Self.streamSend(port, token: token, session: session, content: "hello world mock:tokens=10 mock:delay=5")
        #expect(events.first?.event == "start")
        #expect(events.dropFirst().dropLast().allSatisfy { $0.event == "token" })
        #expect(events.last?.event == "done")
        var content = ""
        for event in events where event.event == "token" {
            content += try #require(event.json["delta"] as? String)
            #expect(event.id == String(content.utf8.count))
        }
        #expect(content.split(separator: " ").count == 10)
        let done = try #require(events.last?.json["message"] as? [String: Any])
        #expect(done["content"] as? String == content)
        #expect(done["status"] as? String == "complete")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
        stack.mock.signal(SIGTERM)
    }

    /// `kill -9` mid-answer, then a restart on the same database: the user's message is
    /// there, the answer is `interrupted` and holds the checkpointed part of what was sent.
    @Test func killNineMidStreamThenRestartKeepsWhatWasSaved() async throws {
        let stack = try await Stack()
        let (first, port) = try await stack.serve()
        let (token, session) = try await Self.guestWithSession(port)
        // 60 tokens 100 ms apart; curl stops reading after 3 s, past the 2 s checkpoint.
        let events = try await Self.streamSend(port, token: token, session: session, content: "keep me safe mock:tokens=60 mock:delay=100", seconds: 3)
        first.signal(SIGKILL)
        _ = await first.waitForExit()
        let received = events.filter { $0.event == "token" }.compactMap { $0.json["delta"] as? String }.joined()
        #expect(received.split(separator: " ").count >= 20)

        let (second, secondPort) = try await stack.serve()
        #expect(second.log.contains("answers left streaming by a crash ended as interrupted"))
        let history = try #require(try await Self.call(secondPort, "GET", "/v1/sessions/\(session)/messages", token: token)["items"] as? [[String: Any]])
        #expect(history.count == 2)
        #expect(history.last?["content"] as? String == "keep me safe mock:tokens=60 mock:delay=100")
        #expect(history.last?["status"] as? String == "complete")
        let answer = try #require(history.first)
        #expect(answer["status"] as? String == "interrupted")
        let saved = try #require(answer["content"] as? String)
        #expect(!saved.isEmpty)
        // The answer went on after curl stopped reading, so the stored text may be the longer.
        #expect(received.hasPrefix(saved) || saved.hasPrefix(received))
        // Checkpoints every 2 s or 512 bytes: the crash lost at most one of those (and the
        // write that may have been in flight).
        #expect(received.utf8.count - saved.utf8.count <= 2 * 512 + 32, "\(received.utf8.count - saved.utf8.count) bytes lost")
        #expect((answer["usage"] as? [String: Any])?["estimated"] as? Bool == true, "the interrupted turn was charged (estimated)")
        // A client resuming from the last byte it got is told where the answer was cut, not 422.
        let resumed = try await runProcess(["curl", "-sN", "--max-time", "10", "-H", "Authorization: Bearer \(token)", "-H", "Accept: text/event-stream",
                                            "-H", "Last-Event-ID: \(received.utf8.count)",
                                            "http://127.0.0.1:\(secondPort)/v1/sessions/\(session)/messages/\(answer["id"] as? String ?? "")/events"])
        let done = try #require(SSE.parse(resumed.stdout).last)
        #expect(done.event == "done", "\(resumed.stdout)")
        if received.utf8.count > saved.utf8.count { #expect(done.json["cut_at"] as? Int == saved.utf8.count) }
        second.signal(SIGTERM)
        #expect(await second.waitForExit() == 0)
        stack.mock.signal(SIGTERM)
    }

    /// SIGTERM drains: readiness is 503 at once (a balancer stops sending traffic), a new send
    /// gets 503 with Retry-After, and an answer that can finish within the grace period does.
    @Test func sigtermDrainsBeforeItStops() async throws {
        let stack = try await Stack()
        let (parley, port) = try await stack.serve(["SHUTDOWN_GRACE_SECONDS": "30", "AUTH_RATE_LIMIT_PER_MINUTE": "0"])
        let (token, session) = try await Self.guestWithSession(port)
        let (otherToken, otherSession) = try await Self.guestWithSession(port)
        #expect(try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/health/ready"]).stdout == "200")
        let answer = Task { try await Self.streamSend(port, token: token, session: session, content: "drain me mock:tokens=50 mock:delay=100") }
        #expect(try await Self.waitForRunningTurns(port, count: 1))
        parley.signal(SIGTERM)
        try await Task.sleep(for: .milliseconds(300))
        let ready = try await runProcess(["curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/health/ready"])
        #expect(ready.stdout.hasSuffix("\n503"), "\(ready.stdout)")
        #expect(ready.stdout.contains(#""accepting":"unavailable""#))
        let refused = try await runProcess(["curl", "-s", "-D", "-", "-o", "/dev/null", "-H", "Authorization: Bearer \(otherToken)",
                                            "-H", "Content-Type: application/json", "-d", #"{"content":"too late"}"#,
                                            "http://127.0.0.1:\(port)/v1/sessions/\(otherSession)/messages"])
        #expect(refused.stdout.hasPrefix("HTTP/1.1 503"), "\(refused.stdout)")
        #expect(refused.stdout.lowercased().contains("retry-after:"))
        let events = try await answer.value
        #expect(events.last?.event == "done", "the running answer finished within the grace period")
        #expect((events.last?.json["message"] as? [String: Any])?["status"] as? String == "complete")
        #expect(await parley.waitForExit() == 0)
        stack.mock.signal(SIGTERM)
    }

    /// SIGTERM with 50 answers streaming: each stream ends with `error: server_shutdown`, each
    /// answer is saved `interrupted` before the process exits 0 within the grace period.
    @Test func sigtermEndsOpenStreamsWithServerShutdownAndSavesThem() async throws {
        let stack = try await Stack()
        let (parley, port) = try await stack.serve(["SHUTDOWN_GRACE_SECONDS": "3", "AUTH_RATE_LIMIT_PER_MINUTE": "0"])
        var clients: [(token: String, session: String)] = []
        for _ in 0..<50 { clients.append(try await Self.guestWithSession(port)) }
        let streams = clients.map { client in
            Task { try await Self.streamSend(port, token: client.token, session: client.session, content: "long mock:tokens=3000 mock:delay=20") }
        }
        // Every stream has started (its answer is running) before the signal.
        let metrics = try await Self.waitForRunningTurns(port, count: 50)
        #expect(metrics)
        let signalled = ContinuousClock.now
        parley.signal(SIGTERM)
        for stream in streams {
            let events = try await stream.value
            #expect(events.last?.event == "error")
            #expect(events.last?.json["code"] as? String == "server_shutdown")
            let words = events.compactMap { $0.json["delta"] as? String }.joined().split(separator: " ")
            #expect(words.count > 5)
        }
        #expect(await parley.waitForExit() == 0)
        #expect(ContinuousClock.now - signalled < .seconds(4), "within the grace period (3 s) and the exit")

        let (restarted, newPort) = try await stack.serve()
        #expect(!restarted.log.contains("answers left streaming by a crash"), "every answer was saved before the exit")
        for client in clients {
            let items = try #require(try await Self.call(newPort, "GET", "/v1/sessions/\(client.session)/messages", token: client.token)["items"] as? [[String: Any]])
            #expect(items.first?["status"] as? String == "interrupted")
            #expect((items.first?["content"] as? String)?.isEmpty == false)
        }
        restarted.signal(SIGTERM)
        #expect(await restarted.waitForExit() == 0)
        stack.mock.signal(SIGTERM)
    }

    static let metricsToken = "metrics-token-for-tests"

    /// Polls `GET /metrics` until `count` answers run (at most 20 s).
    static func waitForRunningTurns(_ port: Int, count: Int) async throws -> Bool {
        for _ in 0..<200 {
            let metrics = try await runProcess(["curl", "-s", "-H", "Authorization: Bearer \(metricsToken)", "http://127.0.0.1:\(port)/metrics"]).stdout
            if let line = metrics.split(separator: "\n").first(where: { $0.hasPrefix("parley_turns_running ") }),
               let running = Int(line.split(separator: " ").last ?? ""), running >= count { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// The test Redis, or nil (outside CI only) when `make test` did not start one.
    static var redisURL: String? {
        let url = ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS_URL"]
        if url == nil, ProcessInfo.processInfo.environment["CI"] != nil { Issue.record("PARLEY_TEST_REDIS_URL is not set") }
        return url
    }

    static func register(_ port: Int, _ email: String) async throws -> String {
        try #require(try await call(port, "POST", "/v1/auth/register", json: #"{"email":"\#(email)","password":"correct horse"}"#)["access_token"] as? String)
    }

    /// Sends in JSON mode; the HTTP status and the problem's tier, if any.
    static func send(_ port: Int, token: String, session: String, content: String) async throws -> (status: Int, tier: String?) {
        let body = String(decoding: try JSONEncoder().encode(["content": content]), as: UTF8.self)
        let result = try await runProcess(["curl", "-s", "-w", "\n%{http_code}", "-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json",
                                           "-d", body, "http://127.0.0.1:\(port)/v1/sessions/\(session)/messages"])
        let lines = result.stdout.split(separator: "\n")
        let json = (try? JSONSerialization.jsonObject(with: Data((lines.dropLast().joined(separator: "\n")).utf8))) as? [String: Any]
        return (Int(lines.last ?? "") ?? 0, json?["tier"] as? String)
    }

    /// Three instances on one Redis enforce one budget per user.
    @Test(.enabled(if: ThrowawayService.redisConfigured, "no test Redis (make test starts one)")) func threeInstancesShareOneBudget() async throws {
        let redis = try #require(Self.redisURL, "PARLEY_TEST_REDIS_URL is not set")
        let stack = try await Stack()
        let limits = ["REDIS_URL": redis, "CHAT_RATE_LIMIT_PER_MINUTE": "3"]
        let (a, portA) = try await stack.serve(limits)
        let (b, portB) = try await stack.serve(limits)
        let (c, portC) = try await stack.serve(limits)
        let token = try await Self.register(portA, "shared-\(UUID())@example.org")
        let session = try #require(try await Self.call(portA, "POST", "/v1/sessions", token: token)["id"] as? String)
        for (port, word) in [(portA, "one"), (portB, "two"), (portC, "three")] {
            #expect(try await Self.send(port, token: token, session: session, content: "\(word) mock:tokens=1").status == 200)
        }
        for port in [portC, portB, portA] {
            let refused = try await Self.send(port, token: token, session: session, content: "four")
            #expect(refused.status == 429)
            #expect(refused.tier == "per_minute")
        }
        for parley in [a, b, c] {
            parley.signal(SIGTERM)
            #expect(await parley.waitForExit() == 0)
        }
        stack.mock.signal(SIGTERM)
    }

    /// An instance killed mid-answer cannot release its stream lease; the lease expires and
    /// the user's place is free again on the other instance.
    @Test(.enabled(if: ThrowawayService.redisConfigured, "no test Redis (make test starts one)")) func streamLeaseOfAKilledInstanceExpires() async throws {
        let redis = try #require(Self.redisURL, "PARLEY_TEST_REDIS_URL is not set")
        let stack = try await Stack()
        let limits = ["REDIS_URL": redis, "CHAT_MAX_CONCURRENT_STREAMS": "1", "STREAM_LEASE_SECONDS": "2"]
        let (a, portA) = try await stack.serve(limits)
        let (b, portB) = try await stack.serve(limits)
        let token = try await Self.register(portA, "lease-\(UUID())@example.org")
        let first = try #require(try await Self.call(portA, "POST", "/v1/sessions", token: token)["id"] as? String)
        let second = try #require(try await Self.call(portA, "POST", "/v1/sessions", token: token)["id"] as? String)
        _ = try await Self.streamSend(portA, token: token, session: first, content: "long mock:tokens=500 mock:delay=20", seconds: 1)
        a.signal(SIGKILL)
        _ = await a.waitForExit()
        let killed = ContinuousClock.now
        let held = try await Self.send(portB, token: token, session: second, content: "blocked")
        #expect(held.status == 429)
        #expect(held.tier == "concurrent_streams")
        var status = 0
        while ContinuousClock.now - killed < .seconds(6) {
            status = try await Self.send(portB, token: token, session: second, content: "free again mock:tokens=1").status
            if status == 200 { break }
            try await Task.sleep(for: .milliseconds(250))
        }
        #expect(status == 200)
        #expect(ContinuousClock.now - killed >= .seconds(1), "freed by expiry, not at once")
        b.signal(SIGTERM)
        #expect(await b.waitForExit() == 0)
        stack.mock.signal(SIGTERM)
    }

    /// A stop sent to the instance that does not run the answer reaches the one that does.
    @Test(.enabled(if: ThrowawayService.redisConfigured, "no test Redis (make test starts one)")) func stopReachesTheInstanceRunningTheAnswer() async throws {
        let redis = try #require(Self.redisURL, "PARLEY_TEST_REDIS_URL is not set")
        let stack = try await Stack()
        let (a, portA) = try await stack.serve(["REDIS_URL": redis])
        let (b, portB) = try await stack.serve(["REDIS_URL": redis])
        let token = try await Self.register(portA, "stop-\(UUID())@example.org")
        let session = try #require(try await Self.call(portA, "POST", "/v1/sessions", token: token)["id"] as? String)
        let stream = Task { try await Self.streamSend(portA, token: token, session: session, content: "long mock:tokens=1000 mock:delay=20") }
        try await Task.sleep(for: .milliseconds(600))
        let stopped = try await Self.call(portB, "POST", "/v1/sessions/\(session)/stop", token: token)
        let message = try #require(stopped["message"] as? [String: Any])
        #expect(message["status"] as? String == "interrupted")
        let events = try await stream.value
        #expect(events.last?.event == "done")
        #expect((events.last?.json["message"] as? [String: Any])?["status"] as? String == "interrupted")
        #expect((events.last?.json["message"] as? [String: Any])?["content"] as? String == message["content"] as? String)
        for parley in [a, b] {
            parley.signal(SIGTERM)
            #expect(await parley.waitForExit() == 0)
        }
        stack.mock.signal(SIGTERM)
    }
}

/// One Server-Sent Event as curl printed it.
struct SSE {
    var event = "message"
    var id: String?
    var data = ""

    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(data.utf8))) as? [String: Any] ?? [:] }

    /// The events of a complete or cut-off stream (a frame without its blank line is dropped).
    static func parse(_ text: String) -> [SSE] {
        var events: [SSE] = []
        for frame in text.components(separatedBy: "\n\n").dropLast() {
            var event = SSE()
            var lines: [String] = []
            for line in frame.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix(":") { continue }
                var field = Substring(line), value: Substring = ""
                if let colon = line.firstIndex(of: ":") {
                    field = line[..<colon]
                    value = line[line.index(after: colon)...]
                    if value.hasPrefix(" ") { value = value.dropFirst() }
                }
                switch field {
                case "event": event.event = String(value)
                case "id": event.id = String(value)
                case "data": lines.append(String(value))
                default: break
                }
            }
            if lines.isEmpty { continue }
            event.data = lines.joined(separator: "\n")
            events.append(event)
        }
        return events
    }
}
