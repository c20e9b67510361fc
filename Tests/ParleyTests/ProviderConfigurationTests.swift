import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// Which models `parley serve` offers, from its environment.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ProviderConfigurationTests {
    /// Starts serve, signs up, and returns the model ids `GET /v1/models` lists, and the log.
    func models(_ overrides: [String: String]) async throws -> (ids: [String], log: String) {
        let server = try ParleyProcess(["serve"], environment: ParleyProcess.testEnvironment(overrides.merging(["PORT": "0"]) { a, _ in a }))
        let port = try await server.waitForPort()
        let reg = try await runProcess(["curl", "-s", "-H", "Content-Type: application/json",
                                        "-d", #"{"email":"m@example.org","password":"correct horse"}"#, "http://127.0.0.1:\(port)/v1/auth/register"])
        let token = try #require((try JSONSerialization.jsonObject(with: Data(reg.stdout.utf8)) as? [String: Any])?["access_token"] as? String)
        let listed = try await runProcess(["curl", "-s", "-H", "Authorization: Bearer \(token)", "http://127.0.0.1:\(port)/v1/models"])
        let anonymous = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(port)/v1/models"])
        #expect(anonymous.stdout == "401")
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)
        let items = (try JSONSerialization.jsonObject(with: Data(listed.stdout.utf8)) as? [String: Any])?["items"] as? [[String: Any]] ?? []
        return (items.compactMap { $0["id"] as? String }, server.log)
    }

    func exitStatus(_ overrides: [String: String]) async throws -> ProcessResult {
        try await runProcess([ParleyProcess.binaryPath, "serve"], environment: ParleyProcess.testEnvironment(overrides.merging(["PORT": "0"]) { a, _ in a }))
    }

    @Test func withNothingConfiguredTheMockIsServedAndSaidSo() async throws {
        let (ids, log) = try await models([:])
        #expect(ids == ["mock"])
        #expect(log.contains("serving the built-in mock model"))
    }

    @Test func oneUpstreamFromLLMVariables() async throws {
        let (ids, _) = try await models(["LLM_BASE_URL": "http://127.0.0.1:9/v1", "LLM_MODEL": "llama-3.1-8b", "LLM_API_KEY": "sk-x"])
        #expect(ids == ["llama-3.1-8b"])
    }

    @Test func severalUpstreamsFromAModelsFile() async throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("models-\(UUID().uuidString).json")
        try #"{"models":[{"id":"gpt-4o-mini","base_url":"https://api.openai.com/v1","api_key_env":"TEST_OPENAI_KEY"},{"id":"local","base_url":"http://127.0.0.1:11434/v1"}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let (ids, _) = try await models(["MODELS_FILE": file.path, "TEST_OPENAI_KEY": "sk-abc"])
        #expect(ids == ["gpt-4o-mini", "local"])
        let missingKey = try await exitStatus(["MODELS_FILE": file.path])
        #expect(missingKey.status == 78)
        #expect(missingKey.stderr.contains("TEST_OPENAI_KEY is unset"))
        try "not json".write(to: file, atomically: true, encoding: .utf8)
        let broken = try await exitStatus(["MODELS_FILE": file.path])
        #expect(broken.status == 78)
        #expect(broken.stderr.contains("invalid configuration: MODELS_FILE"))
    }

    /// Prices in the models file cost the usage a user reads back; half a price is refused.
    @Test func pricesFromTheModelsFileCostTheUsage() async throws {
        let (mock, mockPort) = try await ParleyProcess.mockUpstream()
        defer { mock.signal(SIGTERM) }
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("models-\(UUID().uuidString).json")
        defer { try? FileManager.default.removeItem(at: file) }
        try #"{"models":[{"id":"mock-model","base_url":"http://127.0.0.1:\#(mockPort)/v1","input_price_per_million":2.5,"output_price_per_million":10}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        let server = try ParleyProcess(["serve"], environment: ParleyProcess.testEnvironment(["PORT": "0", "MODELS_FILE": file.path]))
        let port = try await server.waitForPort()
        func json(_ arguments: [String]) async throws -> [String: Any] {
            let result = try await runProcess(["curl", "-s"] + arguments)
            return try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], "\(result.stdout)")
        }
        let token = try #require(try await json(["-H", "Content-Type: application/json", "-d", #"{"email":"m@example.org","password":"correct horse"}"#,
                                                 "http://127.0.0.1:\(port)/v1/auth/register"])["access_token"] as? String)
        let auth = ["-H", "Authorization: Bearer \(token)", "-H", "Content-Type: application/json"]
        let session = try #require(try await json(auth + ["-d", "{}", "http://127.0.0.1:\(port)/v1/sessions"])["id"] as? String)
        let sent = try await json(auth + ["-d", #"{"content":"price me mock:tokens=7 mock:delay=0"}"#, "http://127.0.0.1:\(port)/v1/sessions/\(session)/messages"])
        let usage = try #require((sent["message"] as? [String: Any])?["usage"] as? [String: Any], "\(sent)")
        let prompt = try #require(usage["prompt_tokens"] as? Int), completion = try #require(usage["completion_tokens"] as? Int)
        let history = try await json(auth + ["http://127.0.0.1:\(port)/v1/usage/history?days=1"])
        let total = try #require(history["total"] as? [String: Any])
        #expect(completion == 7)
        #expect(total["prompt_tokens"] as? Int == prompt && total["completion_tokens"] as? Int == completion)
        let cost = try #require(total["cost"] as? Double)
        #expect(abs(cost - (Double(prompt) * 2.5 + Double(completion) * 10) / 1_000_000) < 1e-9, "\(history)")
        server.signal(SIGTERM)
        #expect(await server.waitForExit() == 0)

        try #"{"models":[{"id":"m","base_url":"http://127.0.0.1:9/v1","input_price_per_million":1}]}"#.write(to: file, atomically: true, encoding: .utf8)
        let half = try await exitStatus(["MODELS_FILE": file.path])
        #expect(half.status == 78)
        #expect(half.stderr.contains("model m needs both input_price_per_million and output_price_per_million"))
        try #"{"models":[{"id":"m","base_url":"http://127.0.0.1:9/v1","input_price_per_million":1,"output_price_per_million":-2}]}"#
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(try await exitStatus(["MODELS_FILE": file.path]).status == 78)
    }

    @Test func badProviderSettingsNameTheVariable() async throws {
        let noModel = try await exitStatus(["LLM_BASE_URL": "http://127.0.0.1:9/v1"])
        #expect(noModel.status == 78)
        #expect(noModel.stderr.contains("LLM_MODEL is required"))
        let badURL = try await exitStatus(["LLM_BASE_URL": "api.openai.com", "LLM_MODEL": "x"])
        #expect(badURL.stderr.contains("invalid configuration: LLM_BASE_URL"))
        let secret = String(repeating: "s", count: 40)
        let production = try await exitStatus(["APP_ENV": "production", "JWT_SECRET": secret])
        #expect(production.status == 78)
        #expect(production.stderr.contains("LLM_BASE_URL (or MODELS_FILE) is required when APP_ENV=production"))
        let (ids, _) = try await models(["APP_ENV": "production", "JWT_SECRET": secret, "LLM_PROVIDER": "mock"])
        #expect(ids == ["mock"])
    }
}
