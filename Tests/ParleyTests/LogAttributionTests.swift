import Foundation
import HTTPServerTesting
import ProcessTesting
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

/// A streamed answer's access line is written when it ends, with its real duration and size,
/// and the open-streams gauge follows the stream.
@Suite(.timeLimit(.minutes(5))) struct StreamAccessLogTests {
    @Test func theAccessLineOfAStreamSaysHowLongItRanAndWhatItSent() async throws {
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "METRICS_TOKEN": ChatProcessTests.metricsToken,
                                                                 "MOCK_TOKEN_DELAY_SECONDS": "0.1", "INSTANCE_ID": "web-7"])
        let port = try await parley.waitForPort()
        let (token, session) = try await ChatProcessTests.guestWithSession(port)
        let events = try await ChatProcessTests.streamSend(port, token: token, session: session, content: "one two three four five six")
        #expect(events.last?.event == "done")
        let metrics = try await runProcess(["curl", "-s", "-H", "Authorization: Bearer \(ChatProcessTests.metricsToken)", "http://127.0.0.1:\(port)/metrics"])
        #expect(metrics.stdout.contains("parley_sse_streams_open 0"), "the gauge went back to 0")
        #expect(metrics.stdout.contains(#"parley_instance_info{instance_id="web-7"} 1"#), "the scrape names its instance")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
        let line = try #require(parley.log.split(separator: "\n").first {
            $0.contains("\"message\":\"request\"") && $0.contains("/v1/sessions/{id}/messages") && $0.contains("\"parley.method\":\"POST\"")
        })
        func number(_ key: String) -> Double? {
            guard let range = line.range(of: "\"\(key)\":\"") else { return nil }
            return Double(line[range.upperBound...].prefix { $0 != "\"" })
        }
        let duration = try #require(number("parley.duration_ms")), head = try #require(number("parley.head_ms"))
        #expect(duration >= 500, "the mock's tokens take at least 0.5 s: \(line)")
        #expect(head < duration)
        #expect(try #require(number("parley.bytes")) > 100)
        #expect(line.contains("\"parley.completed\":\"true\""))
    }
}
