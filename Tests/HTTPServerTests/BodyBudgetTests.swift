import Foundation
import HTTPServer
import HTTPServerTesting
import Testing

/// Request bodies cost memory only where a route reads them, and only up to a server-wide budget.
@Suite(.serialized, .timeLimit(.minutes(5))) struct BodyBudgetTests {
    /// A route that takes no body, or no route at all, is answered at once: the server does
    /// not wait for (or buffer) the megabyte the head announced, and closes afterwards.
    @Test(arguments: [
        ("GET /hello", 200), ("DELETE /nowhere", 404), ("POST /nowhere", 404), ("GET /echo", 405),
    ])
    func aBodyNobodyReadsIsNotReceived(_ request: String, _ status: Int) async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                for framing in ["Content-Length: 1048576", "Transfer-Encoding: chunked"] {
                    // A server waiting for the body would answer 408 after its 500 ms body
                    // timeout: the status tells, so the read may wait as long as a busy machine needs.
                    let c = try RawConnection(port: server.port)
                    try c.send(crlf: "\(request) HTTP/1.1\nHost: x\n\(framing)\n\n")
                    let r = try c.readResponse()
                    #expect(r.status == status, "\(request) with \(framing)")
                    #expect(r.header("Connection") == "close")
                    #expect(c.isClosedByPeer())
                }
            }
        }
    }

    /// Past the budget of body bytes in flight a body is refused with 503 before it is read,
    /// and once the bodies in flight are done a new one is taken again.
    @Test func bodiesPastTheBudgetAreRefusedUntilRoomIsMade() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.maxBodyBytesInFlight = 1000
        configuration.bodyTimeout = .seconds(5)
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let first = try RawConnection(port: server.port)
                try first.send(crlf: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 800\n\n")
                Thread.sleep(forTimeInterval: 0.1)
                let second = try RawConnection(port: server.port)
                try second.send(crlf: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 800\n\n")
                let refused = try second.readResponse()
                #expect(refused.status == 503)
                #expect(refused.header("Retry-After") == "1")
                #expect(refused.text.contains("too many request bodies"))
                // Chunked bodies count as their bytes arrive.
                let chunked = try RawConnection(port: server.port)
                try chunked.send(crlf: "POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n12c\n\(String(repeating: "c", count: 300))\n")
                #expect(try chunked.readResponse().status == 503)

                try first.send(String(repeating: "a", count: 800))
                #expect(try first.readResponse().text.count == 800)
                let third = try RawConnection(port: server.port)
                try third.send(crlf: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 800\n\n\(String(repeating: "b", count: 800))")
                #expect(try third.readResponse().status == 200)
            }
        }
    }
}
