import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// Readiness asks each configured upstream whether it answers, and names the model that does not.
@Suite(.timeLimit(.minutes(5))) struct ReadinessTests {
    func ready(_ port: Int) async throws -> (status: String, body: String) {
        let result = try await runProcess(["curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(port)/health/ready"])
        let parts = result.stdout.split(separator: "\n")
        return (String(parts.last ?? ""), parts.dropLast().joined(separator: "\n"))
    }

    @Test func anUpstreamThatAnswersIsReady() async throws {
        let (mock, mockPort) = try await ParleyProcess.mockUpstream()
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "LLM_BASE_URL": "http://127.0.0.1:\(mockPort)/v1", "LLM_MODEL": "mock-model"])
        let port = try await parley.waitForPort()
        let answer = try await ready(port)
        #expect(answer.status == "200", "\(answer.body)")
        #expect(answer.body.contains("\"model:mock-model\":\"ok\""), "\(answer.body)")
        parley.signal(SIGTERM)
        mock.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
    }

    @Test func anUpstreamThatDoesNotAnswerIsNamed() async throws {
        // A port that was free a moment ago: nothing listens there.
        let probe = try ParleyProcess(["mock-llm", "--port", "0", "--log-format", "json"])
        let deadPort = try await probe.waitForPort()
        probe.signal(SIGTERM)
        _ = await probe.waitForExit()
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "LLM_BASE_URL": "http://127.0.0.1:\(deadPort)/v1", "LLM_MODEL": "gone-model"])
        let port = try await parley.waitForPort()
        let answer = try await ready(port)
        #expect(answer.status == "503", "\(answer.body)")
        #expect(answer.body.contains("\"model:gone-model\":\"unavailable\""), "\(answer.body)")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
    }
}
