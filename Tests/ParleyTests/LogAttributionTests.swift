import Foundation
import HTTPServerTesting
import Testing

/// Abuse can be attributed from the logs: the access line and the failed-login audit line name
/// the client (through a trusted proxy, the address it forwarded) and the account tried.
@Suite(.timeLimit(.minutes(5))) struct LogAttributionTests {
    @Test func accessAndFailedLoginLinesNameTheClientAndAccount() async throws {
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "TRUSTED_PROXIES": "127.0.0.1"])
        let port = try await parley.waitForPort()
        let result = try await runProcess([
            "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Content-Type: application/json",
            "-H", "X-Forwarded-For: 6.6.6.6", "-H", "X-Forwarded-For: 198.51.100.23",
            "-d", #"{"email":"Victim@Example.org","password":"not the password"}"#, "http://127.0.0.1:\(port)/v1/auth/login",
        ])
        #expect(result.stdout == "401")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
        let lines = parley.log.split(separator: "\n")
        let failed = try #require(lines.first { $0.contains("\"failed login\"") })
        #expect(failed.contains("\"parley.client\":\"198.51.100.23\""), "\(failed)")
        #expect(failed.contains("\"parley.account\":\"victim@example.org\""), "\(failed)")
        let access = try #require(lines.first { $0.contains("\"message\":\"request\"") && $0.contains("/v1/auth/login") })
        #expect(access.contains("\"parley.client\":\"198.51.100.23\""), "\(access)")
    }
}
