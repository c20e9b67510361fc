import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// `parley serve` and `parley mock-llm` as real processes: the binary the README starts.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ServeCommandTests {
    @Test func healthAnswersWithStatusAndVersion() async throws {
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0"])
        let port = try await parley.waitForPort()
        let result = try await runProcess(["curl", "-s", "-i", "http://127.0.0.1:\(port)/health"])
        #expect(result.stdout.hasPrefix("HTTP/1.1 200 OK"))
        #expect(result.stdout.contains("Content-Type: application/json"))
        #expect(result.stdout.hasSuffix("{\"status\":\"ok\",\"version\":\"0.1.0\"}"))
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
    }

    struct BadValue: CustomTestStringConvertible, Sendable {
        let variable: String
        let value: String
        var testDescription: String { "\(variable)=\(value)" }
    }

    static let badValues = [
        BadValue(variable: "PORT", value: "http"),
        BadValue(variable: "PORT", value: "70000"),
        BadValue(variable: "LOG_LEVEL", value: "loud"),
        BadValue(variable: "LOG_FORMAT", value: "xml"),
        BadValue(variable: "HTTP_MAX_CONNECTIONS", value: "0"),
        BadValue(variable: "HTTP_HEADER_TIMEOUT_SECONDS", value: "-1"),
        BadValue(variable: "SHUTDOWN_GRACE_SECONDS", value: "soon"),
    ]

    @Test(arguments: badValues)
    func badConfigurationExitsNamingTheVariable(_ bad: BadValue) async throws {
        var environment = ["PORT": "0"]
        environment[bad.variable] = bad.value
        let parley = try ParleyProcess(["serve"], environment: environment)
        let status = await parley.waitForExit()
        #expect(status == 78)
        #expect(parley.log.contains("invalid configuration: \(bad.variable) "))
        #expect(parley.log.contains(bad.value))
    }

    /// Values that are fine alone but not together, or not in production.
    @Test(arguments: [
        (["APP_ENV": "production", "JWT_SECRET": String(repeating: "s", count: 40), "LLM_PROVIDER": "mock", "CORS_ORIGINS": "*"], "CORS_ORIGINS"),
        (["CORS_ORIGINS": "chat.example.org"], "CORS_ORIGINS"),
        (["TRUSTED_PROXIES": "10.0.0.0/8, proxy.internal"], "TRUSTED_PROXIES"),
        (["REDIS_URL": "http://localhost:6379"], "REDIS_URL"),
        (["RATE_LIMIT_FAIL_MODE": "sometimes"], "RATE_LIMIT_FAIL_MODE"),
    ])
    func badCombinationsExitNamingTheVariable(_ environment: [String: String], _ variable: String) async throws {
        let parley = try ParleyProcess(["serve"], environment: environment.merging(["PORT": "0"]) { a, _ in a })
        #expect(await parley.waitForExit() == 78)
        #expect(parley.log.contains("invalid configuration: \(variable) "), "\(parley.log)")
    }

    @Test func portInUseExitsNonZero() async throws {
        let first = try ParleyProcess(["serve"], environment: ["PORT": "0"])
        let port = try await first.waitForPort()
        let second = try ParleyProcess(["serve"], environment: ["PORT": "\(port)"])
        #expect(await second.waitForExit() == 1)
        #expect(second.log.contains("Address already in use"))
        first.signal(SIGTERM)
        #expect(await first.waitForExit() == 0)
    }

    /// SIGTERM while a streamed response is in flight: the response completes, then the
    /// process exits 0; a new connection is refused meanwhile.
    @Test func sigtermLetsAStreamInFlightFinishThenExitsZero() async throws {
        let (mock, port) = try await ParleyProcess.mockUpstream()
        async let stream = runProcess([
            "curl", "-sN", "-X", "POST", "-H", "X-Mock-Tokens: 20", "-H", "X-Mock-Delay-Ms: 50",
            "-d", "{\"messages\":[{\"role\":\"user\",\"content\":\"one two three\"}],\"stream\":true}",
            "http://127.0.0.1:\(port)/v1/chat/completions",
        ])
        try await Task.sleep(for: .milliseconds(300))
        mock.signal(SIGTERM)
        let result = try await stream
        let deltas = result.stdout.split(separator: "\n").filter { $0.contains("\"content\"") }
        #expect(deltas.count == 20)
        #expect(result.stdout.contains("data: [DONE]"))
        #expect(await mock.waitForExit() == 0)
        #expect(mock.log.contains("termination signal received"))
    }

    @Test func idleServerExitsPromptlyOnSIGINT() async throws {
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0"])
        _ = try await parley.waitForPort()
        let start = ContinuousClock.now
        parley.signal(SIGINT)
        #expect(await parley.waitForExit() == 0)
        // Well under the 10 s grace period an idle server has no reason to wait for (the
        // margin is for a machine busy with the other suites' processes).
        #expect(ContinuousClock.now - start < .seconds(5))
        // The background work stops before the database closes: the search indexer, woken by
        // its cancellation, used to run one more pass against the closed database.
        let warnings = parley.log.split(separator: "\n").filter { $0.contains("\"level\":\"warning\"") || $0.contains("\"level\":\"error\"") }
        #expect(warnings.isEmpty, "\(warnings)")
    }
}

/// The open-file limit: raised to the hard limit at start, with the connection cap kept below it.
@Suite(.timeLimit(.minutes(5))) struct DescriptorLimitTests {
    @Test func theConnectionCapFitsTheOpenFileLimit() async throws {
        let env = ParleyProcess.testEnvironment(["PORT": "0", "HTTP_MAX_CONNECTIONS": "10000"])
        let server = try ParleyProcess(["prlimit", "--nofile=100:300", ParleyProcess.binaryPath, "serve"], environment: env, executable: "/usr/bin/env")
        _ = try await server.waitForPort()
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
        let line = try #require(server.log.split(separator: "\n").first { $0.contains("HTTP_MAX_CONNECTIONS lowered") })
        #expect(line.contains("\"parley.nofile\":\"300\""), "the soft limit was raised to the hard one: \(line)")
        #expect(line.contains("\"parley.limit\":\"263\""), "300 less a reserve of 37: \(line)")
    }
}
