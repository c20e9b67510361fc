import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// Several instances on one database behave as one server: one answer per session across
/// them, and an instance that dies leaves no answer streaming for long, without touching the
/// answers of the others (nor does one that starts).
@Suite(.serialized, .timeLimit(.minutes(5))) struct ClusterTests {
    static let secret = "cluster-test-secret-cluster-test-secret-0123456789"

    static func serve(_ databaseURL: String, mockPort: Int, _ extra: [String: String] = [:]) async throws -> (ParleyProcess, Int) {
        var environment = ["PORT": "0", "DATABASE_URL": databaseURL, "JWT_SECRET": secret, "LLM_BASE_URL": "http://127.0.0.1:\(mockPort)/v1",
                           "LLM_MODEL": "mock-model", "AUTH_RATE_LIMIT_PER_MINUTE": "0"]
        for (key, value) in extra { environment[key] = value }
        let process = try ParleyProcess(["serve"], environment: environment)
        return (process, try await process.waitForPort())
    }

    /// Two sends to one session at the same moment through two instances: one answer, one 409.
    static func oneAnswerPerSession(_ databaseURL: String) async throws {
        let mock = try ParleyProcess(["mock-llm", "--port", "0", "--log-format", "json"])
        let mockPort = try await mock.waitForPort()
        defer { mock.signal(SIGTERM) }
        let (a, portA) = try await serve(databaseURL, mockPort: mockPort)
        let (b, portB) = try await serve(databaseURL, mockPort: mockPort)
        for round in 0..<5 {
            let (token, session) = try await ChatProcessTests.guestWithSession(portA)
            async let viaA = Self.send(portA, token, session, "round \(round) mock:tokens=10 mock:delay=50")
            async let viaB = Self.send(portB, token, session, "round \(round) mock:tokens=10 mock:delay=50")
            let statuses = try await [viaA, viaB].sorted()
            #expect(statuses == [200, 409], "round \(round): \(statuses)")
            let history = try await ChatProcessTests.call(portB, "GET", "/v1/sessions/\(session)/messages", token: token)
            #expect((history["items"] as? [[String: Any]])?.count == 2, "one user message and one answer")
        }
        a.signal(SIGTERM)
        b.signal(SIGTERM)
        #expect(await a.waitForExit() == 0)
        #expect(await b.waitForExit() == 0)
    }

    /// The status of a JSON-mode send (it waits for the whole answer).
    static func send(_ port: Int, _ token: String, _ session: String, _ content: String) async throws -> Int {
        let result = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "20", "-H", "Authorization: Bearer \(token)",
                                           "-H", "Content-Type: application/json", "-d", #"{"content":"\#(content)"}"#,
                                           "http://127.0.0.1:\(port)/v1/sessions/\(session)/messages"])
        return Int(result.stdout) ?? 0
    }

    @Test func oneAnswerPerSessionAcrossTwoInstancesOnSQLite() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-cluster-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try await Self.oneAnswerPerSession("sqlite://" + folder.appendingPathComponent("shared.db").path)
    }

    @Test(.enabled(if: ThrowawayService.canStartPostgres, "no PostgreSQL server binaries to start a database of its own"))
    func oneAnswerPerSessionAcrossTwoInstancesOnPostgres() async throws {
        let postgres = try #require(try await ThrowawayService.start("test-postgres.sh"))
        defer { Task { try? await postgres.run("teardown") } }
        try await Self.oneAnswerPerSession(try #require(postgres["PARLEY_TEST_POSTGRES_URL"]))
    }

    /// `kill -9` of instance A mid-answer: B's sweep ends A's answer once its lease lapses, and
    /// a reader of it on B is told; B's own answer, and one still running when a third instance
    /// starts, are untouched.
    @Test(.enabled(if: ThrowawayService.canStartPostgres && ThrowawayService.canStartRedis, "needs PostgreSQL and Redis of its own"))
    func aDeadInstancesAnswersEndWithinTheLeaseAndOthersAreUntouched() async throws {
        let postgres = try #require(try await ThrowawayService.start("test-postgres.sh"))
        let redis = try #require(try await ThrowawayService.start("test-redis.sh"))
        defer { Task { try? await postgres.run("teardown"); try? await redis.run("teardown") } }
        let mock = try ParleyProcess(["mock-llm", "--port", "0", "--log-format", "json"])
        let mockPort = try await mock.waitForPort()
        defer { mock.signal(SIGTERM) }
        let shared = ["REDIS_URL": try #require(redis["PARLEY_TEST_REDIS_URL"]), "STREAM_LEASE_SECONDS": "3",
                      "GUEST_RATE_LIMIT_PER_MINUTE": "0", "GUEST_DAILY_MESSAGE_QUOTA": "0"]
        let url = try #require(postgres["PARLEY_TEST_POSTGRES_URL"])
        let (a, portA) = try await Self.serve(url, mockPort: mockPort, shared)
        let (b, portB) = try await Self.serve(url, mockPort: mockPort, shared)
        let (tokenA, sessionA) = try await ChatProcessTests.guestWithSession(portA)
        let (tokenB, sessionB) = try await ChatProcessTests.guestWithSession(portB)
        // A's answer runs 10 s, B's 14 s.
        let onA = Task { try await ChatProcessTests.streamSend(portA, token: tokenA, session: sessionA, content: "on a mock:tokens=100 mock:delay=100", seconds: 30) }
        let onB = Task { try await ChatProcessTests.streamSend(portB, token: tokenB, session: sessionB, content: "on b mock:tokens=140 mock:delay=100", seconds: 30) }
        try await Task.sleep(for: .seconds(1.5))
        let running = try await ChatProcessTests.call(portB, "GET", "/v1/sessions/\(sessionA)/messages", token: tokenA)
        let answerA = try #require((running["items"] as? [[String: Any]])?.first?["id"] as? String)
        // A reader of A's answer on B, following its checkpoints.
        let reader = Task {
            try await runProcess(["curl", "-sN", "--max-time", "25", "-H", "Authorization: Bearer \(tokenA)", "-H", "Accept: text/event-stream",
                                  "http://127.0.0.1:\(portB)/v1/sessions/\(sessionA)/messages/\(answerA)/events"])
        }
        try await Task.sleep(for: .seconds(1))
        a.signal(SIGKILL)
        let killedAt = ContinuousClock.now
        _ = await a.waitForExit()
        _ = try? await onA.value
        // A newcomer starting while B's answer streams must not touch it.
        let (c, _) = try await Self.serve(url, mockPort: mockPort, shared)
        let followed = SSE.parse(try await reader.value.stdout)
        let ended = ContinuousClock.now - killedAt
        #expect(followed.last?.event == "done", "the reader on B was told")
        #expect((followed.last?.json["message"] as? [String: Any])?["status"] as? String == "interrupted")
        #expect(ended < .seconds(3 + 1 + 3), "ended within the lease and a sweep (\(ended))")
        let streamB = try await onB.value
        #expect(streamB.last?.event == "done")
        #expect((streamB.last?.json["message"] as? [String: Any])?["status"] as? String == "complete", "B's own answer was untouched")
        for process in [b, c] { process.signal(SIGTERM) }
        #expect(await b.waitForExit() == 0)
        #expect(await c.waitForExit() == 0)
    }
}
