import Foundation
import HTTPServer
import HTTPServerTesting
import Testing

/// A real server on an ephemeral loopback port, driven with raw sockets.
/// Serialized: several tests measure timeouts, and two cores shared by parallel tests would blur them.
@Suite(.serialized, .timeLimit(.minutes(5))) struct LiveServerTests {
    @Test func keepAliveReusesTheConnection() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                for i in 0..<3 {
                    try c.send(crlf: "GET /path?n=\(i) HTTP/1.1\nHost: x\n\n")
                    let r = try c.readResponse()
                    #expect(r.status == 200)
                    #expect(r.text == "/path?n=\(i)")
                    #expect(r.header("Connection") == nil)
                    #expect(r.header("Date")?.hasSuffix("GMT") == true)
                }
                #expect(server.server.openConnectionCount == 1)
            }
        }
    }

    /// A handler's header value cannot split the response head: CR, LF and NUL in it become
    /// spaces, and a value without them is sent as it is.
    @Test func aHeaderValueCannotSplitTheHead() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "GET /header?value=a%0D%0AInjected:%20yes%00z HTTP/1.1\nHost: x\n\n")
                let r = try c.readResponse()
                #expect(r.status == 200)
                #expect(r.header("X-Echo") == "a  Injected: yes z")
                #expect(r.header("Injected") == nil)
                #expect(r.text == "ok")
                try c.send(crlf: "GET /header?value=plain%20%C3%A9t%C3%A9 HTTP/1.1\nHost: x\n\n")
                #expect(try c.readResponse().header("X-Echo") == "plain été")
            }
        }
    }

    @Test func threePipelinedRequestsInOneWriteAreAnsweredInOrder() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "GET /slow?ms=150 HTTP/1.1\nHost: x\n\nPOST /echo HTTP/1.1\nHost: x\nContent-Length: 6\n\nsecondGET /path?third HTTP/1.1\nHost: x\n\n")
                #expect(try c.readResponse().text == "slept 150")
                #expect(try c.readResponse().text == "second")
                #expect(try c.readResponse().text == "/path?third")
            }
        }
    }

    @Test func chunkedUploadWithExtensionsAndTrailers() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n4;ext=1\nWiki\n5\npedia\n")
                Thread.sleep(forTimeInterval: 0.05)
                try c.send("E\r\n in\r\n\r\nchunks.\r\n0\r\nX-Sum: 7\r\n\r\n")
                let r = try c.readResponse()
                #expect(r.status == 200)
                #expect(r.text == "Wikipedia in\r\n\r\nchunks.")
                #expect(r.header("X-Trailers") == "X-Sum=7")
            }
        }
    }

    @Test func chunkedUploadOverTheLimitIs413() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                let chunk = String(repeating: "a", count: 600)
                try c.send(crlf: "POST /echo HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\n\n258\n\(chunk)\n258\n\(chunk)\n0\n\n")
                let r = try c.readResponse()
                #expect(r.status == 413)
                #expect(r.text.contains("larger than 1024 bytes"))
                #expect(c.isClosedByPeer())
            }
        }
    }

    @Test func expectContinueGetsAnInterimResponseBeforeTheBody() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 5\nExpect: 100-continue\n\n")
                let interim = try c.readResponse()
                #expect(interim.status == 100)
                try c.send("hello")
                let r = try c.readResponse()
                #expect(r.status == 200)
                #expect(r.text == "hello")
            }
        }
    }

    @Test func oversizedBodyIsRefusedBeforeItIsSent() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 5000\nExpect: 100-continue\n\n")
                let r = try c.readResponse()
                #expect(r.status == 413)
                #expect(r.header("Connection") == "close")
                #expect(r.header("Content-Type") == "application/problem+json")
                #expect(r.text.contains("5000 bytes is larger than the limit of 1024"))
                #expect(c.isClosedByPeer())
            }
        }
    }

    @Test func headAnswersWithoutABody() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "HEAD /hello HTTP/1.1\nHost: x\n\nGET /hello HTTP/1.1\nHost: x\n\n")
                let head = try c.readResponse(head: true)
                #expect(head.status == 200)
                #expect(head.header("Content-Length") == "5")
                // Had the HEAD response carried a body, this would read "hello" as a status line.
                let get = try c.readResponse()
                #expect(get.text == "hello")
            }
        }
    }

    struct Refusal: CustomTestStringConvertible, Sendable {
        let name: String
        let request: String
        let status: Int
        var testDescription: String { name }
    }

    static let refusals: [Refusal] = [
        Refusal(name: "414 target too long", request: "GET /\(String(repeating: "a", count: 8200)) HTTP/1.1\nHost: x\n\n", status: 414),
        Refusal(name: "431 header block too large", request: "GET / HTTP/1.1\nHost: x\nX-Big: \(String(repeating: "b", count: 17000))\n\n", status: 431),
        Refusal(name: "413 declared body too large", request: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 1025\n\n", status: 413),
        Refusal(name: "501 unknown method", request: "BREW /pot HTTP/1.1\nHost: x\n\n", status: 501),
        Refusal(name: "505 HTTP/2 preface", request: "PRI * HTTP/2.0\n\nSM\n\n", status: 505),
        Refusal(name: "400 smuggling attempt", request: "POST /echo HTTP/1.1\nHost: x\nContent-Length: 4\nTransfer-Encoding: chunked\n\n0\n\n", status: 400),
        Refusal(name: "400 missing Host", request: "GET /hello HTTP/1.1\n\n", status: 400),
    ]

    @Test(arguments: refusals)
    func refusedWithStatusAndClosed(_ refusal: Refusal) async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: refusal.request)
                let r = try c.readResponse()
                #expect(r.status == refusal.status)
                #expect(r.header("Connection") == "close")
                #expect(r.header("Content-Type") == "application/problem+json")
                #expect(r.text.contains("\"status\":\(refusal.status)"))
                #expect(c.isClosedByPeer())
            }
        }
    }

    @Test func slowHeaderClientIsDroppedAfterTheHeaderTimeout() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            let elapsed = try await blocking {
                let c = try RawConnection(port: server.port)
                let start = Date()
                try c.send("GET /hello HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                Thread.sleep(forTimeInterval: 0.2)
                try c.send("a")  // still trickling: a byte now and then must not extend the deadline
                let r = try c.readResponse()
                #expect(r.status == 408)
                #expect(c.isClosedByPeer())
                return Date().timeIntervalSince(start)
            }
            #expect(elapsed >= 0.4 && elapsed < 2.0, "dropped after \(elapsed)s with a 0.5 s header timeout")
        }
    }

    @Test func connectionThatSendsNothingIsClosed() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port, timeout: 3)
                let closed = c.isClosedByPeer()
                #expect(closed)
            }
            #expect(await eventually { server.server.openConnectionCount == 0 })
        }
    }

    @Test func idleKeepAliveConnectionIsClosed() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.idleTimeout = .milliseconds(300)
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port, timeout: 3)
                try c.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
                #expect(try c.readResponse().status == 200)
                #expect(c.isClosedByPeer())
            }
        }
    }

    @Test func connectionsOverTheCapGet503() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.maxConnections = 2
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let a = try RawConnection(port: server.port)
                let b = try RawConnection(port: server.port)
                for c in [a, b] {
                    try c.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
                    #expect(try c.readResponse().status == 200)
                }
                let third = try RawConnection(port: server.port)
                let r = try third.readResponse()
                #expect(r.status == 503)
                #expect(r.header("Retry-After") == "1")
                #expect(third.isClosedByPeer())
                // The first two are still served.
                try a.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
                #expect(try a.readResponse().status == 200)
            }
        }
    }

    @Test func http10GetsCloseAndKeepAliveOnRequest() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "GET /hello HTTP/1.0\nConnection: keep-alive\n\n")
                let first = try c.readResponse()
                #expect(first.header("Connection") == "keep-alive")
                try c.send(crlf: "GET /hello HTTP/1.0\n\n")
                let second = try c.readResponse()
                #expect(second.header("Connection") == "close")
                #expect(c.isClosedByPeer())
            }
        }
    }

    @Test func http10StreamIsDelimitedByClose() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "GET /events?count=3 HTTP/1.0\n\n")
                let r = try c.readResponse()
                #expect(r.header("Transfer-Encoding") == nil)
                #expect(r.text.components(separatedBy: "event: tick").count == 4)
            }
        }
    }

    @Test func servesIPv6() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.host = "::1"
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(host: "::1", port: server.port)
                try c.send(crlf: "GET /hello HTTP/1.1\nHost: [::1]\n\n")
                #expect(try c.readResponse().text == "hello")
            }
        }
    }

    /// 10,000 events (20 MB, more than the kernel buffers between client and server hold) to
    /// a reader that stalls, then reads: every event arrives, in order, while the server
    /// never holds more than its high-water mark (plus one event) for that client.
    /// (A tiny receive buffer would make loopback TCP crawl on delayed ACKs instead.)
    @Test func sseToASlowReaderArrivesCompleteWithBoundedBuffering() async throws {
        try await TestServer.with(responder: testRouter()) { server in
            let ids = try await blocking {
                let c = try RawConnection(port: server.port, timeout: 10)
                try c.send(crlf: "GET /events?count=10000&size=2000 HTTP/1.1\nHost: x\n\n")
                // Stall until the kernel buffers between us are full and the server has had to
                // hold bytes itself (20 MB is well above loopback's buffer ceilings).
                let deadline = Date().addingTimeInterval(20)
                while server.server.peakBufferedBytes == 0, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
                Thread.sleep(forTimeInterval: 0.2)
                var reads = 0
                var raw: [UInt8] = []
                var text = ""
                while true {
                    let piece = try c.readSome(max: 65536)
                    if piece.isEmpty { break }
                    raw += piece
                    reads += 1
                    if reads % 20 == 0 { Thread.sleep(forTimeInterval: 0.001) }
                    if Array(raw.suffix(5)) == Array("0\r\n\r\n".utf8) { break }
                }
                text = String(decoding: raw, as: UTF8.self)
                return text.components(separatedBy: "\n").compactMap { line in
                    line.hasPrefix("id: ") ? Int(line.dropFirst(4)) : nil
                }
            }
            #expect(ids.count == 10_000)
            #expect(ids == Array(0..<10_000))
            let peak = server.server.peakBufferedBytes
            #expect(peak > 0, "the reader was never slow enough to need buffering")
            #expect(peak <= 64 * 1024 + 2100, "server buffered \(peak) bytes for one slow client")
        }
    }

    @Test func clientDisconnectCancelsTheHandlerWithinOneSecond() async throws {
        let probe = CancellationProbe()
        try await TestServer.with(responder: testRouter(probe: probe)) { server in
            let closedAt = try await blocking { () -> ContinuousClock.Instant in
                let c = try RawConnection(port: server.port)
                try c.send(crlf: "GET /hang HTTP/1.1\nHost: x\n\n")
                var seen = ""
                while !seen.contains(": keep-alive") { seen += String(decoding: try c.readSome(), as: UTF8.self) }
                #expect(seen.hasPrefix("HTTP/1.1 200 OK"))
                Thread.sleep(forTimeInterval: 0.1)  // the handler is now asleep, not writing
                c.close()  // the client goes away
                return .now
            }
            #expect(probe.wasStarted)
            let deadline = ContinuousClock.now + .seconds(2)
            while probe.cancelledAt == nil, ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(10))
            }
            let cancelledAt = try #require(probe.cancelledAt)
            #expect(cancelledAt - closedAt < .seconds(1))
        }
    }

    @Test func gracefulShutdownLetsARequestInFlightFinish() async throws {
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let probe = CancellationProbe()
        let server = Server(configuration: TestServer.defaultConfiguration, responder: testRouter(probe: probe), logger: logger)
        try server.start()
        let port = try #require(server.localPort)
        async let response = blocking {
            let c = try RawConnection(port: port)
            try c.send(crlf: "GET /slow?ms=400 HTTP/1.1\nHost: x\n\n")
            let r = try c.readResponse()
            return (r.status, r.text, r.header("Connection"), c.isClosedByPeer())
        }
        // The request is in its handler before shutdown starts (a fixed sleep lost that race
        // on a loaded machine: the client's thread had not even connected).
        #expect(await eventually(timeout: .seconds(10)) { probe.wasStarted })
        let started = ContinuousClock.now
        await server.shutdown(gracePeriod: .seconds(5))
        let (status, text, connection, closed) = try await response
        #expect(status == 200)
        #expect(text == "slept 400")
        #expect(connection == "close")
        #expect(closed)
        #expect(ContinuousClock.now - started < .seconds(2))
        #expect(server.openConnectionCount == 0)
        #expect(throws: (any Error).self) { _ = try RawConnection(port: port) }
    }

    @Test func shutdownClosesStreamsThatOutlastTheGracePeriod() async throws {
        let probe = CancellationProbe()
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        let server = Server(configuration: TestServer.defaultConfiguration, responder: testRouter(probe: probe), logger: logger)
        try server.start()
        let port = try #require(server.localPort)
        async let closed = blocking {
            let c = try RawConnection(port: port, timeout: 5)
            try c.send(crlf: "GET /hang HTTP/1.1\nHost: x\n\n")
            _ = try c.readSome()
            return c.isClosedByPeer()
        }
        #expect(await eventually(timeout: .seconds(10)) { probe.wasStarted })
        await server.shutdown(gracePeriod: .milliseconds(300))
        #expect(try await closed)
        #expect(probe.cancelledAt != nil)
    }

    @Test func clientThatStopsReadingIsDroppedAfterTheWriteTimeout() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.writeTimeout = .milliseconds(400)
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let c = try RawConnection(port: server.port, receiveBufferSize: 4096)
                try c.send(crlf: "GET /events?count=1000000&size=100 HTTP/1.1\nHost: x\n\n")
                Thread.sleep(forTimeInterval: 1.0)
            }
            #expect(await eventually { server.server.openConnectionCount == 0 })
        }
    }
}

import Logging
