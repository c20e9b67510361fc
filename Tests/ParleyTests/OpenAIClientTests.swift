import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// parley's OpenAI API (`/openai/v1`) through the official `openai` Python package
/// (Tests/OpenAI/openai_client_test.py) and curl, against a live parley with the mock upstream.
@Suite(.serialized, .timeLimit(.minutes(5))) struct OpenAIClientTests {
    static let root = ParleyProcess.repositoryRoot
    static var python: String? { ProcessInfo.processInfo.environment["PARLEY_TEST_PYTHON"] }
    static var runnable: Bool { python != nil || ProcessInfo.processInfo.environment["CI"] != nil }

    @Test(.enabled(if: runnable, "needs the Python environment with the openai package that `make test` prepares"))
    func theOfficialClientWorksAgainstParley() async throws {
        let python = try #require(Self.python, "PARLEY_TEST_PYTHON is not set; `make test` sets it")
        let (mock, mockPort) = try await ParleyProcess.mockUpstream()
        defer { mock.signal(SIGTERM) }
        let parley = try ParleyProcess(["serve"], environment: [
            "PORT": "0", "LLM_BASE_URL": "http://127.0.0.1:\(mockPort)/v1", "LLM_MODEL": "mock-model", "GUEST_RATE_LIMIT_PER_MINUTE": "1",
            "AUTH_RATE_LIMIT_PER_MINUTE": "0",
        ])
        let port = try await parley.waitForPort()
        let token = try #require(try await ChatProcessTests.call(port, "POST", "/v1/auth/register",
                                                                 json: #"{"email":"sdk@example.org","password":"correct horse"}"#)["access_token"] as? String)
        let key = try #require(try await ChatProcessTests.call(port, "POST", "/v1/api-keys", token: token, json: #"{"name":"sdk"}"#)["key"] as? String)
        let guest = try #require(try await ChatProcessTests.call(port, "POST", "/v1/auth/guest")["access_token"] as? String)
        let result = try await runProcess([python, Self.root.appendingPathComponent("Tests/OpenAI/openai_client_test.py").path,
                                           "http://127.0.0.1:\(port)", token, key, guest])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("ok\n"), "\(result.stdout)\(result.stderr)")
        // The last request closed its stream after a few chunks of a 20-second answer: the mock
        // sees parley close the upstream stream long before its end.
        var cancelled = false
        for _ in 0..<50 where !cancelled {
            cancelled = mock.log.contains("stream closed by the client before its end")
            if !cancelled { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(cancelled, "the upstream transfer was cancelled when the client closed its stream")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
    }
}
