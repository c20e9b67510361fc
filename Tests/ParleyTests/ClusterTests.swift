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
        let (mock, mockPort) = try await ParleyProcess.mockUpstream()
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
        let backends = try await ClusterBackends.start()
        defer { backends.stop() }
        let (url, mockPort) = (backends.databaseURL, backends.mockPort)
        let shared = ["REDIS_URL": backends.redisURL, "STREAM_LEASE_SECONDS": "3", "GUEST_RATE_LIMIT_PER_MINUTE": "0", "GUEST_DAILY_MESSAGE_QUOTA": "0"]
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

    /// A reader on another instance gets an answer's bytes through Redis as they are
    /// generated, not at the owner's checkpoints (every 2 s or 512 B): the same text byte for
    /// byte, each byte soon after the owner's own reader had it; and a reader resuming there
    /// with Last-Event-ID mid-answer starts at the exact byte.
    @Test(.enabled(if: ThrowawayService.canStartPostgres && ThrowawayService.canStartRedis, "needs PostgreSQL and Redis of its own"))
    func aReaderOnAnotherInstanceGetsEveryByteLive() async throws {
        let backends = try await ClusterBackends.start()
        defer { backends.stop() }
        let (url, mockPort) = (backends.databaseURL, backends.mockPort)
        let shared = ["REDIS_URL": backends.redisURL, "GUEST_RATE_LIMIT_PER_MINUTE": "0", "GUEST_DAILY_MESSAGE_QUOTA": "0"]
        let (a, portA) = try await Self.serve(url, mockPort: mockPort, shared.merging(["INSTANCE_ID": "a"]) { $1 })
        let (c, portC) = try await Self.serve(url, mockPort: mockPort, shared.merging(["INSTANCE_ID": "c"]) { $1 })
        var delays: [Double] = []
        for round in 0..<4 {
            let (token, session) = try await ChatProcessTests.guestWithSession(portA)
            let result = try await runProcess(["python3", Self.tailDelayScript, String(portA), String(portC), token, session,
                                               "tail \(round) ünïcödé mock:tokens=60 mock:delay=25"])
            let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout) \(result.stderr)")
            let ownerText = try #require(report["owner_text"] as? String)
            #expect(!ownerText.isEmpty)
            #expect(report["other_text"] as? String == ownerText, "round \(round): the other instance's reader got every byte")
            #expect(report["other_status"] as? String == "complete")
            let resumedFrom = try #require(report["resumed_from"] as? Int)
            #expect(report["resumed_text"] as? String == String(decoding: Array(ownerText.utf8).dropFirst(resumedFrom), as: UTF8.self),
                    "round \(round): a resume with Last-Event-ID on the other instance starts at the exact byte")
            delays += try #require(report["delays_ms"] as? [Double])
        }
        delays.sort()
        try #require(delays.count > 100, "enough bytes reached both readers while both were attached: \(delays.count)")
        let p50 = delays[delays.count / 2], p99 = delays[min(delays.count - 1, delays.count * 99 / 100)]
        // One line for bench/run-cluster.sh.
        print(#"cluster-figures {"tail_offsets": \#(delays.count), "tail_p50_ms": \#(p50), "tail_p99_ms": \#(p99)}"#)
        // Checkpoints alone would put the median near a second; live tails, a few milliseconds.
        #expect(p50 < 250, "p50 \(p50) ms")
        for process in [a, c] { process.signal(SIGTERM) }
        #expect(await a.waitForExit() == 0)
        #expect(await c.waitForExit() == 0)
    }

    /// A change to a user reaches every instance's cache of callers at once, through Redis:
    /// with callers kept for five minutes, an account disabled by the operator's command is
    /// refused by both instances within moments, and a role given by an admin on one instance
    /// is honoured on the other.
    @Test(.enabled(if: ThrowawayService.canStartPostgres && ThrowawayService.canStartRedis, "needs PostgreSQL and Redis of its own"))
    func aChangeToAUserTakesEffectOnEveryInstanceAtOnce() async throws {
        let backends = try await ClusterBackends.start()
        defer { backends.stop() }
        let shared = ["REDIS_URL": backends.redisURL, "AUTH_CACHE_SECONDS": "300"]
        let (a, portA) = try await Self.serve(backends.databaseURL, mockPort: backends.mockPort, shared.merging(["INSTANCE_ID": "a"]) { $1 })
        let (b, portB) = try await Self.serve(backends.databaseURL, mockPort: backends.mockPort, shared.merging(["INSTANCE_ID": "b"]) { $1 })
        func status(_ port: Int, _ path: String, _ token: String) async throws -> String {
            try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Authorization: Bearer \(token)",
                                  "http://127.0.0.1:\(port)\(path)"]).stdout
        }
        /// Moments, not the five minutes the entries would otherwise live.
        func soon(_ port: Int, _ path: String, _ token: String, is expected: String) async throws -> Bool {
            for _ in 0..<50 {
                if try await status(port, path, token) == expected { return true }
                try await Task.sleep(for: .milliseconds(100))
            }
            return false
        }
        let environment = ParleyProcess.testEnvironment().merging(["DATABASE_URL": backends.databaseURL, "REDIS_URL": backends.redisURL,
                                                                   "JWT_SECRET": Self.secret]) { $1 }
        let cli = { (arguments: [String], stdin: String?) in
            try await runProcess([ParleyProcess.binaryPath, "user"] + arguments, stdin: stdin.map { Array($0.utf8) }, environment: environment)
        }
        #expect(try await cli(["create", "--email", "root@example.org", "--admin"], "root password\n").status == 0)
        let register = try await ChatProcessTests.call(portA, "POST", "/v1/auth/register", json: #"{"email":"ann@example.org","password":"ann password"}"#)
        let token = try #require(register["access_token"] as? String, "\(register)")
        let annID = try #require((register["user"] as? [String: Any])?["id"] as? String)
        let rootLogin = try await ChatProcessTests.call(portA, "POST", "/v1/auth/login", json: #"{"email":"root@example.org","password":"root password"}"#)
        let root = try #require(rootLogin["access_token"] as? String)

        // Both instances now keep ann, as a user.
        for port in [portA, portB] {
            #expect(try await status(port, "/v1/users/me", token) == "200")
            #expect(try await status(port, "/v1/admin/users", token) == "403")
        }
        #expect(try await cli(["disable", "--email", "ann@example.org"], nil).status == 0)
        #expect(try await soon(portA, "/v1/users/me", token, is: "403"), "disabled on instance a")
        #expect(try await soon(portB, "/v1/users/me", token, is: "403"), "disabled on instance b")
        #expect(try await cli(["enable", "--email", "ann@example.org"], nil).status == 0)
        #expect(try await soon(portB, "/v1/users/me", token, is: "200"), "enabled again")

        let promoted = try await ChatProcessTests.call(portA, "PATCH", "/v1/admin/users/\(annID)", token: root, json: #"{"role":"admin"}"#)
        #expect(promoted["role"] as? String == "admin")
        #expect(try await soon(portB, "/v1/admin/users", token, is: "200"), "an admin on instance b too")
        for process in [a, b] { process.signal(SIGTERM) }
        #expect(await a.waitForExit() == 0)
        #expect(await b.waitForExit() == 0)
    }

    static let tailDelayScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/tail_delay.py").path
}

/// A throwaway PostgreSQL and Redis and the mock upstream: what the tests of several
/// instances sharing one database and one Redis run on.
struct ClusterBackends {
    let postgres: ThrowawayService
    let redis: ThrowawayService
    let mock: ParleyProcess
    let mockPort: Int
    let databaseURL: String
    let redisURL: String

    static func start() async throws -> ClusterBackends {
        let postgres = try #require(try await ThrowawayService.start("test-postgres.sh"))
        do {
            let redis = try #require(try await ThrowawayService.start("test-redis.sh"))
            do {
                let (mock, mockPort) = try await ParleyProcess.mockUpstream()
                return ClusterBackends(postgres: postgres, redis: redis, mock: mock, mockPort: mockPort,
                                       databaseURL: try #require(postgres["PARLEY_TEST_POSTGRES_URL"]),
                                       redisURL: try #require(redis["PARLEY_TEST_REDIS_URL"]))
            } catch {
                try? await redis.run("teardown")
                throw error
            }
        } catch {
            try? await postgres.run("teardown")
            throw error
        }
    }

    /// Stops the mock and tears the servers down (in the background: a `defer` cannot wait).
    func stop() {
        mock.signal(SIGTERM)
        Task { [postgres, redis] in
            try? await postgres.run("teardown")
            try? await redis.run("teardown")
        }
    }
}

/// Two instances behind nginx with the repository's proxy settings (deploy/nginx): tokens pass
/// through one by one, the client's address survives the proxy, and an instance that drains
/// loses no send.
@Suite(.serialized, .timeLimit(.minutes(5))) struct BehindNginxTests {
    static var nginxInstalled: Bool { FileManager.default.isExecutableFile(atPath: "/usr/sbin/nginx") || ProcessInfo.processInfo.environment["CI"] != nil }
    static let root = ParleyProcess.repositoryRoot

    static func freePort() async throws -> Int {
        let result = try await runProcess(["python3", "-c", "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"])
        return try #require(Int(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// Seconds from the request to the first `token` event and to `done`, read as they arrive.
    static func timedStream(_ port: Int, token: String, session: String, content: String, forwardedFor: String) async throws -> (first: Double, done: Double) {
        let script = """
        import http.client, json, sys, time
        c = http.client.HTTPConnection("127.0.0.1", \(port), timeout=30)
        body = json.dumps({"content": sys.argv[1]})
        start = time.monotonic()
        c.request("POST", "/v1/sessions/\(session)/messages", body, {"Authorization": "Bearer \(token)", "Accept": "text/event-stream",
                  "Content-Type": "application/json", "X-Forwarded-For": "\(forwardedFor)"})
        r = c.getresponse()
        first = None
        while True:
            line = r.fp.readline()
            if not line: break
            if line.startswith(b"event: token") and first is None: first = time.monotonic() - start
            if line.startswith(b"event: done"): print(first, time.monotonic() - start); break
        """
        let result = try await runProcess(["python3", "-c", script, content])
        let parts = result.stdout.split(separator: " ").compactMap { Double($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        try #require(parts.count == 2, "\(result.stdout) \(result.stderr)")
        return (parts[0], parts[1])
    }

    /// nginx in `folder` with the repository's proxy settings in front of `upstreams`; its port.
    static func startNginx(in folder: URL, upstreams: [Int]) async throws -> (Process, Int) {
        let port = try await Self.freePort()
        let dir = folder.path
        let servers = upstreams.map { "server 127.0.0.1:\($0) max_fails=1 fail_timeout=5s;" }.joined(separator: " ")
        let config = """
        daemon off; worker_processes 1; pid \(dir)/nginx.pid; error_log \(dir)/error.log;
        events { worker_connections 2048; }
        http {
            access_log off;
            client_body_temp_path \(dir)/body; proxy_temp_path \(dir)/proxy; fastcgi_temp_path \(dir)/fastcgi;
            uwsgi_temp_path \(dir)/uwsgi; scgi_temp_path \(dir)/scgi;
            upstream parley { \(servers) keepalive 16; }
            server { listen 127.0.0.1:\(port); include \(Self.root.path)/deploy/nginx/parley-locations.conf; }
        }
        """
        try config.write(toFile: dir + "/nginx.conf", atomically: true, encoding: .utf8)
        let nginx = Process()
        nginx.executableURL = URL(fileURLWithPath: "/usr/sbin/nginx")
        nginx.arguments = ["-c", dir + "/nginx.conf", "-p", dir]
        nginx.standardOutput = FileHandle.nullDevice
        nginx.standardError = FileHandle.nullDevice
        try nginx.run()
        var up = false
        for _ in 0..<100 where !up {
            up = (try? await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/health"]))?.stdout == "200"
            if !up { try await Task.sleep(for: .milliseconds(50)) }
        }
        if !up { nginx.terminate() }
        try #require(up, "nginx did not come up: \((try? String(contentsOfFile: dir + "/error.log", encoding: .utf8)) ?? "")")
        return (nginx, port)
    }

    @Test(.enabled(if: nginxInstalled && ThrowawayService.canStartPostgres && ThrowawayService.canStartRedis, "needs nginx, PostgreSQL and Redis"))
    func streamsPassThroughNginxAndADrainingInstanceLosesNoSend() async throws {
        let backends = try await ClusterBackends.start()
        defer { backends.stop() }
        let (url, mockPort) = (backends.databaseURL, backends.mockPort)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        let shared = ["REDIS_URL": backends.redisURL, "TRUSTED_PROXIES": "127.0.0.1",
                      "GUEST_RATE_LIMIT_PER_MINUTE": "0", "GUEST_DAILY_MESSAGE_QUOTA": "0", "SHUTDOWN_GRACE_SECONDS": "5"]
        let (a, portA) = try await ClusterTests.serve(url, mockPort: mockPort, shared.merging(["INSTANCE_ID": "a"]) { $1 })
        let (b, portB) = try await ClusterTests.serve(url, mockPort: mockPort, shared.merging(["INSTANCE_ID": "b"]) { $1 })
        let (nginx, port) = try await Self.startNginx(in: folder, upstreams: [portA, portB])
        defer { nginx.terminate() }

        // 1. Tokens one by one through the proxy: the first long before the last.
        let (token, session) = try await ChatProcessTests.guestWithSession(port)
        let timing = try await Self.timedStream(port, token: token, session: session, content: "through nginx mock:tokens=10 mock:delay=200",
                                                forwardedFor: "198.51.100.7")
        #expect(timing.done >= 1.8, "the answer takes two seconds: \(timing)")
        #expect(timing.first < timing.done - 1, "the first token came through at once, not buffered: \(timing)")
        // 2. The client's address survived the proxy.
        let lines = (a.log + b.log).split(separator: "\n").filter { $0.contains("\"message\":\"request\"") && $0.contains("/v1/sessions/{id}/messages") }
        #expect(lines.contains { $0.contains("\"parley.client\":\"198.51.100.7\"") }, "\(lines)")

        // 3. A drains while sends keep coming through nginx: none is lost.
        a.signal(SIGTERM)
        var statuses: [Int] = []
        for i in 0..<6 {
            let (t, s) = try await ChatProcessTests.guestWithSession(port)
            statuses.append(try await ClusterTests.send(port, t, s, "during the drain \(i) mock:tokens=3 mock:delay=50"))
        }
        #expect(statuses.allSatisfy { $0 == 200 }, "\(statuses)")
        #expect(await a.waitForExit(timeout: .seconds(15)) == 0)
        b.signal(SIGTERM)
        #expect(await b.waitForExit() == 0)
    }

    /// 200 streamed chats through nginx while each of three instances in turn gets SIGTERM
    /// and is started again (and a fourth starts beside them): every client that loses its
    /// stream resumes through nginx, every client's text equals the stored answer byte for
    /// byte, no user message is lost or doubled, and no answer is left streaming.
    @Test(.enabled(if: nginxInstalled && ThrowawayService.canStartPostgres && ThrowawayService.canStartRedis, "needs nginx, PostgreSQL and Redis"))
    func twoHundredChatsSurviveARollingRestart() async throws {
        let backends = try await ClusterBackends.start()
        defer { backends.stop() }
        let (url, mockPort) = (backends.databaseURL, backends.mockPort)
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-rolling-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        // 200 guests from one address: no per-client daily cap on guests here.
        let shared = ["REDIS_URL": backends.redisURL, "TRUSTED_PROXIES": "127.0.0.1", "GUEST_RATE_LIMIT_PER_MINUTE": "0",
                      "GUEST_DAILY_MESSAGE_QUOTA": "0", "WRITE_RATE_LIMIT_PER_MINUTE": "0", "SHUTDOWN_GRACE_SECONDS": "2", "GUEST_DAILY_PER_CLIENT": "0"]
        var ports: [Int] = []
        for _ in 0..<3 { ports.append(try await Self.freePort()) }
        func start(_ index: Int) async throws -> ParleyProcess {
            try await ClusterTests.serve(url, mockPort: mockPort, shared.merging(["INSTANCE_ID": "i\(index)", "PORT": String(ports[index])]) { $1 }).0
        }
        var instances: [ParleyProcess] = []
        for index in 0..<3 { instances.append(try await start(index)) }
        let (nginx, port) = try await Self.startNginx(in: folder, upstreams: ports)
        defer { nginx.terminate() }

        let clock = ContinuousClock()
        let chats = Task {
            try await runProcess(["python3", Self.rollingScript, String(port), "200", "2", "rolling restart mock:tokens=50 mock:delay=100"])
        }
        try await Task.sleep(for: .seconds(3))
        let restartBegan = clock.now
        var fourth: ParleyProcess?
        for index in 0..<3 {
            instances[index].signal(SIGTERM)
            #expect(await instances[index].waitForExit(timeout: .seconds(20)) == 0, "instance \(index) drained and exited cleanly")
            instances[index] = try await start(index)
            // One more instance, outside the balancer, starts while answers stream.
            if index == 0 { fourth = try await ClusterTests.serve(url, mockPort: mockPort, shared.merging(["INSTANCE_ID": "i3"]) { $1 }).0 }
        }
        let restartTook = clock.now - restartBegan
        let result = try await chats.value
        let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout) \(result.stderr)")
        let restartSeconds = Double(restartTook.components.seconds) + Double(restartTook.components.attoseconds) / 1e18
        print(#"cluster-figures {"restart_seconds": \#(restartSeconds), "clients": \#(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines))}"#)
        #expect((report["problems"] as? [String])?.isEmpty == true, "\(report["problems"] ?? "")")
        #expect(report["chats"] as? Int == 400, "every chat ended with done")
        let statuses = try #require(report["statuses"] as? [String: Int])
        #expect(statuses["streaming"] == nil)
        #expect(statuses.values.reduce(0, +) == 400)
        #expect((report["resumes"] as? Int ?? 0) > 0, "some streams were cut by the restarts and resumed")
        for process in instances + [fourth].compactMap({ $0 }) { process.signal(SIGTERM) }
        for process in instances + [fourth].compactMap({ $0 }) { #expect(await process.waitForExit(timeout: .seconds(20)) == 0) }
    }

    static let rollingScript = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/rolling_chats.py").path
}
