import Foundation
import HTTPServer
import HTTPServerTesting
import ProcessTesting
import Testing

/// The same server, talked to by a real client: curl.
@Suite(.serialized, .timeLimit(.minutes(5))) struct CurlTests {
    @Test func reusesTheConnectionForSeveralRequests() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            let url = "http://127.0.0.1:\(server.port)"
            let result = try await runProcess(["curl", "-sv", "\(url)/hello", "\(url)/path?second"])
            #expect(result.status == 0)
            #expect(result.stdout == "hello/path?second")
            #expect(result.stderr.contains("Re-using existing connection"))
        }
    }

    @Test func uploadsChunkedWith100Continue() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            let body = Array(String(repeating: "parley ", count: 100).utf8)
            let result = try await runProcess(
                ["curl", "-sv", "-H", "Transfer-Encoding: chunked", "-H", "Expect: 100-continue",
                 "-H", "Content-Type: application/octet-stream", "--data-binary", "@-", "http://127.0.0.1:\(server.port)/echo"],
                stdin: body
            )
            #expect(result.status == 0)
            #expect(result.stderr.contains("HTTP/1.1 100 Continue"))
            #expect(Array(result.stdout.utf8) == body)
        }
    }

    @Test func headRequest() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            let result = try await runProcess(["curl", "-sI", "http://127.0.0.1:\(server.port)/hello"])
            #expect(result.stdout.hasPrefix("HTTP/1.1 200 OK"))
            #expect(result.stdout.contains("Content-Length: 5"))
        }
    }

    @Test func readsAnEventStream() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            let result = try await runProcess(["curl", "-sN", "http://127.0.0.1:\(server.port)/events?count=100"])
            let ids = result.stdout.split(separator: "\n").filter { $0.hasPrefix("id: ") }.map { Int($0.dropFirst(4)) }
            #expect(ids == (0..<100).map { Optional($0) })
        }
    }

    @Test func refusesAnOversizedUploadWithAProblem() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            let result = try await runProcess(
                ["curl", "-s", "-w", "\n%{http_code}", "--data-binary", "@-", "http://127.0.0.1:\(server.port)/echo"],
                stdin: Array(repeating: UInt8(ascii: "z"), count: 5000)
            )
            #expect(result.stdout.hasSuffix("\n413"))
            #expect(result.stdout.contains("\"detail\":\"request body of 5000 bytes is larger than the limit of 1024 bytes\""))
        }
    }
}
