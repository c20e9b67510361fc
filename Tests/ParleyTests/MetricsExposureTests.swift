import Foundation
import HTTPServerTesting
import ProcessTesting
import Testing

/// `/metrics` shows failed-login and admin-change counts: it is never open on the public port.
@Suite(.timeLimit(.minutes(5))) struct MetricsExposureTests {
    func status(_ url: String, token: String? = nil) async throws -> String {
        var arguments = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", url]
        if let token { arguments += ["-H", "Authorization: Bearer \(token)"] }
        return try await runProcess(arguments).stdout
    }

    @Test func notServedUnlessConfigured() async throws {
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0"])
        let port = try await parley.waitForPort()
        #expect(try await status("http://127.0.0.1:\(port)/metrics") == "404")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
    }

    @Test func onThePublicPortOnlyWithTheToken() async throws {
        let token = "a-metrics-token-\(UUID().uuidString)"
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "METRICS_TOKEN": token])
        let port = try await parley.waitForPort()
        #expect(try await status("http://127.0.0.1:\(port)/metrics") == "401")
        #expect(try await status("http://127.0.0.1:\(port)/metrics", token: token + "x") == "401")
        #expect(try await status("http://127.0.0.1:\(port)/metrics", token: token) == "200")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
        #expect(!parley.log.contains(token), "the token is a secret and never logged")
    }

    @Test func onAListenerOfItsOwn() async throws {
        let parley = try ParleyProcess(["serve"], environment: ["PORT": "0", "METRICS_PORT": "0"])
        let port = try await parley.waitForPort()
        let line = try #require(await waitForLine(parley) { $0.contains("\"logger\":\"parley.metrics\"") && $0.contains("\"listening\"") })
        let range = try #require(line.range(of: "\"parley.port\":\""))
        let metricsPort = try #require(Int(line[range.upperBound...].prefix { $0.isNumber }))
        #expect(metricsPort != port)
        #expect(try await status("http://127.0.0.1:\(port)/metrics") == "404", "not on the public port")
        let body = try await runProcess(["curl", "-s", "http://127.0.0.1:\(metricsPort)/metrics"]).stdout
        #expect(body.contains("parley_http_requests_total"))
        #expect(try await status("http://127.0.0.1:\(metricsPort)/v1/sessions") == "404", "nothing else there")
        parley.signal(SIGTERM)
        #expect(await parley.waitForExit() == 0)
    }

    func waitForLine(_ process: ParleyProcess, _ matches: (Substring) -> Bool) async -> Substring? {
        for _ in 0..<100 {
            if let line = process.log.split(separator: "\n").first(where: matches) { return line }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return nil
    }
}
