import Foundation
import HTTPServerTesting
import ProcessTesting
@testable import parley
import Testing

/// No secret reaches the logs: each shape on its own, then a whole flow at debug level.
@Suite(.timeLimit(.minutes(5))) struct RedactionTests {
    @Test(arguments: [
        ("upstream said: invalid key sk-proj-AbCdEf1234567890", "sk-proj-AbCdEf1234567890"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "eyJhbGciOiJIUzI1NiJ9"),
        ("header authorization=Bearer opaque-token-value", "opaque-token-value"),
        (#"{"email":"a@b.c","password":"correct horse battery"}"#, "correct horse battery"),
        (#"body {\"password\":\"hunter2hunter2\"}"#, "hunter2hunter2"),
        ("refresh rt_Q2hhbmdlTWVQbGVhc2VJdElzQVNlY3JldA used twice", "rt_Q2hhbmdlTWVQbGVhc2VJdElzQVNlY3JldA"),
        ("key pk_dGhpcyBpcyBhIHBlcnNvbmFsIGtleQ created", "pk_dGhpcyBpcyBhIHBlcnNvbmFsIGtleQ"),
        ("cannot reach postgres://parley:db-pass-word@db:5432/parley", "db-pass-word"),
        ("the configured one: my-own-provider-secret in text", "my-own-provider-secret"),
    ])
    func secretsAreRedacted(_ line: String, _ secret: String) {
        let redacted = Redactor(secrets: ["my-own-provider-secret"]).redact(line)
        #expect(!redacted.contains(secret), "\(redacted)")
        #expect(redacted.contains("redacted"))
    }

    @Test func ordinaryLinesAreLeftAlone() {
        let redactor = Redactor(secrets: ["short", "a-long-configured-secret"])
        for line in ["request parley.route=/v1/sessions/{id} parley.status=200", "basically fine", "tokens streamed: 42", "ask-me anything"] {
            #expect(redactor.redact(line) == line)
        }
        #expect(Redactor.isSecretKey("parley.refresh_token") && !Redactor.isSecretKey("parley.route"))
    }

    /// A whole flow at debug level, with an upstream that echoes the key it refuses: none of
    /// the secrets appears in any line.
    @Test func aFullFlowLogsNoSecret() async throws {
        let providerKey = "sk-live-\(UUID().uuidString)"
        let jwtSecret = "jwt-secret-\(UUID().uuidString)-\(UUID().uuidString)"
        let password = "pw-\(UUID().uuidString)"
        let (mock, mockPort) = try await ParleyProcess.mockUpstream()
        let parley = try ParleyProcess(["serve"], environment: [
            "PORT": "0", "LOG_LEVEL": "debug", "JWT_SECRET": jwtSecret, "LLM_API_KEY": providerKey,
            "LLM_BASE_URL": "http://127.0.0.1:\(mockPort)/v1", "LLM_MODEL": "mock-model",
        ])
        let port = try await parley.waitForPort()
        func call(_ method: String, _ path: String, token: String? = nil, json: String? = nil) async throws -> [String: Any] {
            try await ChatProcessTests.call(port, method, path, token: token, json: json)
        }
        _ = try await call("POST", "/v1/auth/register", json: #"{"email":"ann@example.org","password":"\#(password)"}"#)
        _ = try await call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"wrong-\#(password)"}"#)
        let session = try await call("POST", "/v1/auth/login", json: #"{"email":"ann@example.org","password":"\#(password)"}"#)
        let access = try #require(session["access_token"] as? String)
        let refresh = try #require(session["refresh_token"] as? String)
        let apiKey = try #require(try await call("POST", "/v1/api-keys", token: access, json: #"{"name":"script"}"#)["key"] as? String)
        let chat = try #require(try await call("POST", "/v1/sessions", token: apiKey)["id"] as? String)
        _ = try await call("POST", "/v1/sessions/\(chat)/messages", token: access, json: #"{"content":"hello mock:tokens=3"}"#)
        let failed = try await call("POST", "/v1/sessions/\(chat)/messages", token: access, json: #"{"content":"mock:fail=echo-auth"}"#)
        #expect(failed["code"] as? String == "upstream_error")
        #expect((failed["detail"] as? String)?.contains(providerKey) == false)
        let renewed = try await call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)
        _ = try await call("POST", "/v1/auth/refresh", json: #"{"refresh_token":"\#(refresh)"}"#)  // reuse: audited
        _ = try await call("POST", "/v1/auth/logout", token: renewed["access_token"] as? String,
                           json: #"{"refresh_token":"\#(renewed["refresh_token"] as? String ?? "")"}"#)
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
        mock.signal(SIGTERM)

        let log = parley.log
        #expect(log.split(separator: "\n").count > 10, "the flow was logged")
        let audit = log.split(separator: "\n").filter { $0.contains("\"audit\":\"true\"") }
        for event in ["account registered", "failed login", "\"login\"", "refresh token reused", "logout"] {
            #expect(audit.contains { $0.contains(event) }, "audit event \(event)")
        }
        for (name, secret) in [("provider key", providerKey), ("JWT secret", jwtSecret), ("password", password), ("access token", access),
                               ("refresh token", refresh), ("API key", apiKey)] {
            #expect(!log.contains(secret), "the \(name) appears in the log")
        }
    }
}
