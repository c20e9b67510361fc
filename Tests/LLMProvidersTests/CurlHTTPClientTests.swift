import HTTPClient
import Foundation
import HTTPServer
import HTTPServerTesting
import LLMProviders
import Synchronization
import Testing

/// The libcurl client against a real HTTP server on loopback (parley's own).
@Suite(.timeLimit(.minutes(5))) struct CurlHTTPClientTests {
    final class Probe: Sendable {
        let started = Mutex(false)
        let cancelled = Mutex<ContinuousClock.Instant?>(nil)
    }

    func routes(_ probe: Probe = Probe()) -> Router {
        var routes = RouterBuilder()
        routes.get("/events") { r in
            let count = Int(r.queryItems["count"] ?? "") ?? 10
            return .eventStream { events in
                for i in 0..<count {
                    try await events.send(ServerSentEvent(data: "event \(i)"))
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
        }
        routes.post("/echo") { r in Response(contentType: "application/octet-stream", body: r.body) }
        routes.get("/fail") { _ in .problem(.internalServerError, detail: "upstream broke") }
        routes.get("/hang") { _ in
            .eventStream { events in
                try await events.send(ServerSentEvent(data: "first"))
                probe.started.withLock { $0 = true }
                do {
                    try await Task.sleep(for: .seconds(60))
                } catch {
                    probe.cancelled.withLock { $0 = .now }
                    throw error
                }
            }
        }
        return routes.build()
    }

    @Test func streamsABodyAsItArrives() async throws {
        let client = try CurlHTTPClient()
        try await TestServer.with(responder: routes()) { server in
            let response = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(server.port)/events?count=50", method: "GET"))
            #expect(response.status == 200)
            #expect(response.headers["content-type"] == "text/event-stream; charset=utf-8")
            var parser = EventStreamParser()
            var events: [StreamEvent] = []
            var pieces = 0
            for try await piece in response.body {
                pieces += 1
                events += try parser.feed(piece)
            }
            #expect(events.map(\.data) == (0..<50).map { "event \($0)" })
            #expect(pieces > 1, "the body arrived in one piece: nothing was streamed")
        }
    }

    @Test func postsABodyAndReadsErrorsAsStatuses() async throws {
        let client = try CurlHTTPClient()
        try await TestServer.with(responder: routes()) { server in
            let payload = Array(String(repeating: "{\"k\":\"v\"}", count: 5000).utf8)
            let echo = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(server.port)/echo",
                                                             headers: [("Content-Type", "application/json")], body: payload))
            #expect(try await echo.collect() == payload)
            let failed = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(server.port)/fail", method: "GET"))
            #expect(failed.status == 500)
            #expect(String(decoding: try await failed.collect(), as: UTF8.self).contains("upstream broke"))
        }
    }

    @Test func unreachableUpstreamIsAConnectError() async throws {
        let client = try CurlHTTPClient()
        let closed = try ClosedPort()
        await #expect(throws: HTTPClientError.self) {
            _ = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(closed.port)/events", method: "GET"))
        }
        do {
            _ = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(closed.port)/events", method: "GET"))
        } catch let error as HTTPClientError {
            #expect(error.kind == .connect)
        }
        withExtendedLifetime(closed) {}
    }

    @Test func cancellingTheReaderStopsTheTransferAtOnce() async throws {
        let client = try CurlHTTPClient()
        let probe = Probe()
        try await TestServer.with(responder: routes(probe)) { server in
            let url = "http://127.0.0.1:\(server.port)/hang"
            let reader = Task {
                let response = try await client.send(OutgoingRequest(url: url, method: "GET"))
                for try await _ in response.body {}
            }
            // Cancel only once the upstream handler is streaming, however loaded the machine is.
            #expect(await eventually(timeout: .seconds(10)) { probe.started.withLock { $0 } })
            try await Task.sleep(for: .milliseconds(50))
            let cancelledAt = ContinuousClock.now
            reader.cancel()
            _ = await reader.result
            #expect(await eventually(timeout: .seconds(2)) { probe.cancelled.withLock { $0 } != nil })
            let seen = try #require(probe.cancelled.withLock { $0 })
            #expect(seen - cancelledAt < .seconds(1))
        }
    }

    /// Collects what a body sink is given, on the client's thread.
    final class Collected: Sendable {
        let bytes = Mutex<[UInt8]>([])
        let pieces = Mutex(0)
        func sink(enoughAfter marker: String? = nil, failAfter failure: String? = nil) -> ResponseBodySink {
            { piece in
                let text = self.bytes.withLock { bytes in
                    bytes += piece
                    return String(decoding: bytes, as: UTF8.self)
                }
                self.pieces.withLock { $0 += 1 }
                if let failure, text.contains(failure) { throw SinkRefused() }
                if let marker, text.contains(marker) { return .enough }
                return .more
            }
        }
    }

    struct SinkRefused: Error {}

    @Test func aSinkTakesASuccessfulBodyAndLeavesAFailedOneToTheStream() async throws {
        let client = try CurlHTTPClient()
        try await TestServer.with(responder: routes()) { server in
            let collected = Collected()
            let response = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(server.port)/events?count=20", method: "GET"),
                                                 sink: collected.sink())
            #expect(response.status == 200)
            var streamed = 0
            for try await _ in response.body { streamed += 1 }
            #expect(streamed == 0, "the stream yielded what the sink should have taken")
            var parser = EventStreamParser()
            #expect(try parser.feed(collected.bytes.withLock { $0 }).map(\.data) == (0..<20).map { "event \($0)" })
            #expect(collected.pieces.withLock { $0 } > 1, "the body reached the sink in one piece: nothing was streamed")

            let untouched = Collected()
            let failed = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(server.port)/fail", method: "GET"), sink: untouched.sink())
            #expect(failed.status == 500)
            #expect(String(decoding: try await failed.collect(), as: UTF8.self).contains("upstream broke"))
            #expect(untouched.pieces.withLock { $0 } == 0)
        }
    }

    @Test func aSinkThatThrowsEndsTheTransferWithItsError() async throws {
        let client = try CurlHTTPClient()
        try await TestServer.with(responder: routes()) { server in
            let collected = Collected()
            let response = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(server.port)/events?count=200", method: "GET"),
                                                 sink: collected.sink(failAfter: "event 3\n"))
            await #expect(throws: SinkRefused.self) {
                for try await _ in response.body {}
            }
            let seen = collected.bytes.withLock { $0.count }
            try await Task.sleep(for: .milliseconds(100))
            #expect(collected.bytes.withLock { $0.count } == seen, "the sink was fed after it threw")
            #expect(!String(decoding: collected.bytes.withLock { $0 }, as: UTF8.self).contains("event 199"))
        }
    }

    @Test func enoughEndsTheBodyAtOnceAndClosesAnUpstreamThatNeverEnds() async throws {
        let client = try CurlHTTPClient(lingerAfterEnough: .milliseconds(300))
        let probe = Probe()
        try await TestServer.with(responder: routes(probe)) { server in
            let collected = Collected()
            let response = try await client.send(OutgoingRequest(url: "http://127.0.0.1:\(server.port)/hang", method: "GET"),
                                                 sink: collected.sink(enoughAfter: "first"))
            let started = ContinuousClock.now
            for try await _ in response.body {}
            #expect(ContinuousClock.now - started < .seconds(5), "the body waited for the upstream to end")
            // The upstream keeps its response open: the client closes it once the linger is over.
            #expect(await eventually(timeout: .seconds(10)) { probe.cancelled.withLock { $0 } != nil })
        }
    }

    @Test func reusesConnectionsAndRunsManyTransfersAtOnce() async throws {
        let client = try CurlHTTPClient()
        try await TestServer.with(responder: routes()) { server in
            let url = "http://127.0.0.1:\(server.port)/events?count=3"
            for _ in 0..<5 { _ = try await client.send(OutgoingRequest(url: url, method: "GET")).collect() }
            #expect(server.server.openConnectionCount == 1, "sequential transfers did not share one connection")
            let completed = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 {
                    group.addTask {
                        var parser = EventStreamParser()
                        var count = 0
                        for try await piece in try await client.send(OutgoingRequest(url: url, method: "GET")).body {
                            count += try parser.feed(piece).count
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            #expect(completed == 150)
        }
    }
}
