import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// PostgreSQL goes away under streamed answers, as an operator would see it: every user message
/// that got `start` is stored, every client that got `done` gets exactly that text stored in
/// the end (`done` says `saved: false` while it is not), usage is recorded for every turn, no
/// request gets a 500, and the server serves again without a restart. Answers still unsaved at
/// shutdown are spooled and saved by the next start.
@Suite(.serialized, .timeLimit(.minutes(5))) struct DatabaseFaultProcessTests {
    struct Client: Sendable {
        let token: String
        let session: String
    }

    static func psqlCount(_ url: String, _ sql: String) async throws -> Int {
        Int(try await runProcess(["psql", url, "-qAtc", sql]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
    }

    /// Streams one answer per client at once; the events each got.
    static func sendAll(_ port: Int, _ clients: [Client], content: String) async throws -> [[SSE]] {
        try await withThrowingTaskGroup(of: (Int, [SSE]).self) { group in
            for (i, client) in clients.enumerated() {
                group.addTask { (i, try await ChatProcessTests.streamSend(port, token: client.token, session: client.session, content: content, seconds: 40)) }
            }
            var all = [[SSE]](repeating: [], count: clients.count)
            for try await (i, events) in group { all[i] = events }
            return all
        }
    }

    @Test(.timeLimit(.minutes(3)), .enabled(if: ThrowawayService.canStartPostgres, "no PostgreSQL server binaries to start a database of its own")) func postgresOutagesLoseNoFinishedAnswer() async throws {
        guard let postgres = try await ThrowawayService.start("test-postgres.sh"), let url = postgres["PARLEY_TEST_POSTGRES_URL"] else { return }
        let (mock, mockPort) = try await ParleyProcess.mockUpstream()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-fault-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let spool = folder.appendingPathComponent("pending.jsonl").path
        let environment = ["PORT": "0", "DATABASE_URL": url, "LLM_BASE_URL": "http://127.0.0.1:\(mockPort)/v1", "LLM_MODEL": "mock-model",
                           "SPOOL_PATH": spool, "DATABASE_ACQUIRE_TIMEOUT_SECONDS": "1", "AUTH_RATE_LIMIT_PER_MINUTE": "0",
                           "GUEST_RATE_LIMIT_PER_MINUTE": "0", "GUEST_DAILY_MESSAGE_QUOTA": "0", "SHUTDOWN_GRACE_SECONDS": "3"]
        defer {
            mock.signal(SIGTERM)
            try? FileManager.default.removeItem(at: folder)
        }
        do {
            let parley = try ParleyProcess(["serve"], environment: environment)
            let port = try await parley.waitForPort()
            var made: [Client] = []
            for _ in 0..<20 {
                let (token, session) = try await ChatProcessTests.guestWithSession(port)
                made.append(Client(token: token, session: session))
            }
            let clients = made

            // 1. PostgreSQL stops mid-answer for longer than any quick retry, then comes back
            //    while the server runs: the answers end, are said unsaved, and catch up.
            async let first = Self.sendAll(port, clients, content: "outage one mock:tokens=30 mock:delay=100")
            try await Task.sleep(for: .seconds(1))
            try await postgres.run("stop")
            let stoppedAt = ContinuousClock.now
            let streams = try await first
            let unsaved = streams.filter { $0.last?.json["saved"] as? Bool == false }.count
            #expect(streams.allSatisfy { $0.first?.event == "start" && $0.last?.event == "done" }, "every answer ended with done")
            #expect(unsaved == clients.count, "done said saved: false for \(unsaved) of \(clients.count)")
            let stop = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                                             "-H", "Authorization: Bearer \(clients[0].token)", "http://127.0.0.1:\(port)/v1/sessions/\(clients[0].session)/stop"])
            #expect(stop.stdout == "200" || stop.stdout == "503", "stop during the outage: \(stop.stdout), never 500")
            // Longer than the old give-up of four tries (7.5 s) that lost such answers.
            try await Task.sleep(until: stoppedAt + .seconds(9))
            try await postgres.run("restart")
            var stored = 0
            for _ in 0..<60 {
                stored = try await Self.psqlCount(url, "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'")
                if stored == clients.count { break }
                try await Task.sleep(for: .milliseconds(500))
            }
            #expect(stored == clients.count, "\(stored) of \(clients.count) answers caught up after the database came back")
            for (client, events) in zip(clients, streams) {
                let text = events.filter { $0.event == "token" }.compactMap { $0.json["delta"] as? String }.joined()
                let history = try await ChatProcessTests.call(port, "GET", "/v1/sessions/\(client.session)/messages", token: client.token)
                let answer = (history["items"] as? [[String: Any]])?.first
                #expect(answer?["content"] as? String == text, "the stored answer is what the client got")
            }
            #expect(try await Self.psqlCount(url, "SELECT count(*) FROM usage_events") == clients.count, "usage for every turn")

            // 2. PostgreSQL stops again and the server is stopped before it comes back: the
            //    answers are spooled, and the next start saves them.
            async let second = Self.sendAll(port, clients, content: "outage two mock:tokens=20 mock:delay=100")
            try await Task.sleep(for: .seconds(1))
            try await postgres.run("stop")
            let secondStreams = try await second
            #expect(secondStreams.allSatisfy { $0.last?.event == "done" })
            parley.signal(SIGTERM)
            #expect(await parley.waitForExit(timeout: .seconds(15)) == 0)
            #expect(parley.log.contains("were spooled"), "the unsaved answers were spooled")
            #expect(FileManager.default.fileExists(atPath: spool))
            #expect(!parley.log.contains("\"parley.status\":\"500\""), "no request was answered 500")

            try await postgres.run("restart")
            let restarted = try ParleyProcess(["serve"], environment: environment)
            let newPort = try await restarted.waitForPort()
            #expect(restarted.log.contains("spooled answers saved"))
            #expect(!FileManager.default.fileExists(atPath: spool), "the spool is gone once saved")
            #expect(try await Self.psqlCount(url, "SELECT count(*) FROM messages WHERE role = 'assistant' AND status = 'complete'") == 2 * clients.count)
            #expect(try await Self.psqlCount(url, "SELECT count(*) FROM messages WHERE status = 'streaming'") == 0, "no row stays streaming")
            #expect(try await Self.psqlCount(url, "SELECT count(*) FROM usage_events") == 2 * clients.count)
            let (token, session) = try await ChatProcessTests.guestWithSession(newPort)
            let fresh = try await ChatProcessTests.streamSend(newPort, token: token, session: session, content: "after mock:tokens=3")
            #expect(fresh.last?.event == "done", "new chats are served")
            restarted.signal(SIGTERM)
            #expect(await restarted.waitForExit() == 0)
            try await postgres.run("teardown")
        } catch {
            try? await postgres.run("teardown")
            throw error
        }
    }

    /// PostgreSQL stops answering (its processes stopped, its connections still open) while a
    /// background query waits on it: SIGTERM still ends the process. Shutdown waits for the
    /// background tasks before closing the databases, but a few seconds at most.
    @Test(.timeLimit(.minutes(2)), .enabled(if: ThrowawayService.canStartPostgres && ThrowawayService.redisConfigured,
                                            "no PostgreSQL server binaries, or no test Redis"))
    func shutdownDoesNotWaitForADatabaseThatStoppedAnswering() async throws {
        guard let postgres = try await ThrowawayService.start("test-postgres.sh"), let url = postgres["PARLEY_TEST_POSTGRES_URL"] else { return }
        do {
            let redis = try #require(ProcessInfo.processInfo.environment["PARLEY_TEST_REDIS_URL"])
            // With Redis the sweep of lapsed answers queries the database every second.
            let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "DATABASE_URL": url, "REDIS_URL": redis,
                                                                    "STREAM_LEASE_SECONDS": "3", "SHUTDOWN_GRACE_SECONDS": "2"])
            _ = try await parley.waitForPort()
            try await postgres.run("freeze")
            try await Task.sleep(for: .milliseconds(2500))  // a sweep is now waiting for its answer
            parley.signal(SIGTERM)
            #expect(await parley.waitForExit(timeout: .seconds(30)) == 0)
            if await parley.waitForExit(timeout: .zero) == nil { parley.signal(SIGKILL) }
            try await postgres.run("thaw")
            try await postgres.run("teardown")
        } catch {
            try? await postgres.run("teardown")
            throw error
        }
    }

    /// A database that accepts connections and answers nothing (its processes stopped): start-up
    /// gives up after the connect timeout with a clear error, instead of waiting for good.
    @Test(.timeLimit(.minutes(2)), .enabled(if: ThrowawayService.canStartPostgres, "no PostgreSQL server binaries to start a database of its own"))
    func startUpGivesUpOnADatabaseThatAnswersNothing() async throws {
        guard let postgres = try await ThrowawayService.start("test-postgres.sh"), let url = postgres["PARLEY_TEST_POSTGRES_URL"] else { return }
        do {
            try await postgres.run("freeze")
            let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "DATABASE_URL": url])
            let status = await parley.waitForExit(timeout: .seconds(40))
            #expect(status == 1, "start-up still waiting after 40 s: \(parley.log)")
            #expect(parley.log.contains("timeout expired"), "\(parley.log)")
            if status == nil { parley.signal(SIGKILL) }
            try await postgres.run("thaw")
            try await postgres.run("teardown")
        } catch {
            try? await postgres.run("teardown")
            throw error
        }
    }
}
