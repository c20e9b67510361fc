import Foundation
import HTTPServerTesting
import ProcessTesting
@testable import parley
import Testing

/// `parley chat` against a real server with the mock upstream: through a pseudo-terminal
/// (driven by Python's pexpect), and in its scripting mode.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ChatClientTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/chat_terminal.py").path

    struct Server {
        let mock: ParleyProcess
        let parley: ParleyProcess
        let url: String

        /// `guestsPerMinute`: how many messages a guest may send a minute.
        init(guestsPerMinute: Int = 5) async throws {
            let mockPort: Int
            (mock, mockPort) = try await ParleyProcess.mockUpstream()
            parley = try ParleyProcess(["serve"], environment: [
                "PORT": "0", "LLM_BASE_URL": "http://127.0.0.1:\(mockPort)/v1", "LLM_MODEL": "mock-model",
                "GUEST_RATE_LIMIT_PER_MINUTE": "\(guestsPerMinute)",
            ])
            url = "http://127.0.0.1:\(try await parley.waitForPort())"
        }

        func stop() async {
            parley.signal(SIGTERM)
            _ = await parley.waitForExit()
            mock.signal(SIGTERM)
        }
    }

    static func configFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("parley-chat-config-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func terminalSessionThroughAPseudoTerminal() async throws {
        let server = try await Server(guestsPerMinute: 1)
        let registered = try await runProcess(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
                                               "-d", #"{"email":"ann@example.org","password":"correct horse"}"#, server.url + "/v1/auth/register"])
        #expect(registered.stdout == "201")
        let result = try await runProcess(["python3", Self.script, ParleyProcess.binaryPath, server.url, try Self.configFolder()])
        #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
        #expect(result.stdout.hasSuffix("ok\n"))
        await server.stop()
    }

    /// `--api-key` (or `PARLEY_API_KEY`): a script sends as the key's account, with nothing
    /// stored; a refused key says so.
    @Test func scriptsUseAnAPIKey() async throws {
        let server = try await Server()
        let port = Int(server.url.split(separator: ":").last ?? "") ?? 0
        let token = try #require(try await ChatProcessTests.call(port, "POST", "/v1/auth/register",
                                                                 json: #"{"email":"key@example.org","password":"correct horse"}"#)["access_token"] as? String)
        let key = try #require(try await ChatProcessTests.call(port, "POST", "/v1/api-keys", token: token, json: #"{"name":"script"}"#)["key"] as? String)
        let config = try Self.configFolder()
        let environment = ProcessInfo.processInfo.environment.merging(["XDG_CONFIG_HOME": config, "PARLEY_API_KEY": key]) { _, new in new }
        let sent = try await runProcess([ParleyProcess.binaryPath, "chat", "--url", server.url, "--message", "with a key mock:tokens=3", "--json"],
                                        environment: environment)
        #expect(sent.status == 0, "\(sent.stderr)")
        let session = try #require((try JSONSerialization.jsonObject(with: Data(sent.stdout.utf8)) as? [String: Any])?["session_id"] as? String)
        #expect(try await ChatProcessTests.call(port, "GET", "/v1/sessions/\(session)", token: token)["id"] as? String == session,
                "the session is the key's account's")
        #expect(!FileManager.default.fileExists(atPath: config + "/parley/credentials"), "nothing was stored")
        let refused = try await runProcess([ParleyProcess.binaryPath, "chat", "--url", server.url, "--api-key", "pk_not-a-key", "--message", "hi"],
                                           environment: ProcessInfo.processInfo.environment.merging(["XDG_CONFIG_HOME": config]) { _, new in new })
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("the API key was refused"), "\(refused.stderr)")
        await server.stop()
    }

    /// `--message`: the answer on standard output and status 0; JSON with `--json`; a failed
    /// answer or an unreachable server is status 1 with the reason on standard error.
    @Test func scriptingModeOutputAndExitCodes() async throws {
        let server = try await Server()
        let environment = ProcessInfo.processInfo.environment.merging(["XDG_CONFIG_HOME": try Self.configFolder()]) { _, new in new }
        let plain = try await runProcess([ParleyProcess.binaryPath, "chat", "--url", server.url, "--message", "two words mock:tokens=4 mock:delay=1"],
                                         environment: environment)
        #expect(plain.status == 0)
        #expect(plain.stdout == "two words mock:tokens=4 mock:delay=1 \n")

        let json = try await runProcess([ParleyProcess.binaryPath, "chat", "--url", server.url, "--message", "-", "--json"],
                                        stdin: Array("from stdin mock:tokens=2\n".utf8), environment: environment)
        #expect(json.status == 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
        #expect(object["content"] as? String == "from stdin ")
        #expect(object["status"] as? String == "complete")
        #expect((object["usage"] as? [String: Any])?["completion_tokens"] as? Int == 2)
        let session = try #require(object["session_id"] as? String)

        let again = try await runProcess([ParleyProcess.binaryPath, "chat", "--url", server.url, "--session", session, "--message", "more mock:tokens=1"],
                                         environment: environment)
        #expect(again.status == 0)

        let failed = try await runProcess([ParleyProcess.binaryPath, "chat", "--url", server.url, "--message", "mock:fail=500"], environment: environment)
        #expect(failed.status == 1)
        #expect(failed.stderr.contains("upstream_error"))

        let unreachable = try await runProcess([ParleyProcess.binaryPath, "chat", "--url", "http://127.0.0.1:9", "--message", "hi"], environment: environment)
        #expect(unreachable.status == 1)
        #expect(unreachable.stderr.contains("cannot reach the parley server at http://127.0.0.1:9"))
        await server.stop()
    }

    @Test(arguments: [
        ("plain text\twith tab\nand newline", "plain text\twith tab\nand newline"),
        ("\u{1B}[31mred\u{1B}[0m", "red"),
        ("title\u{1B}]0;pwned\u{07}after", "titleafter"),
        ("bell\u{07} and backspace\u{08}", "bell and backspace"),
        ("c1 \u{9B}2Jclear", "c1 clear"),
        ("carriage\rreturn", "carriagereturn"),
    ])
    func terminalTextKeepsOnlyWhatIsSafe(_ input: String, _ expected: String) {
        #expect(ChatClientSanitizer.sanitize(input) == expected)
    }
}

import ChatClient
typealias ChatClientSanitizer = TerminalText
