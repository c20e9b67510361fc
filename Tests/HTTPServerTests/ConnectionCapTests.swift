#if canImport(Glibc)
import Glibc
#endif
import Foundation
@testable import HTTPServer
import HTTPServerTesting
import Logging
import Synchronization
import Testing

/// Caps on connections: per address, the idle time near the global cap, and what happens when
/// the process runs out of descriptors.
@Suite(.serialized, .timeLimit(.minutes(5))) struct ConnectionCapTests {
    @Test func oneAddressCannotHoldEveryConnection() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.maxConnectionsPerAddress = 3
        configuration.headerTimeout = .seconds(10)  // connections wait their turn under load
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let held = try (0..<3).map { _ in try RawConnection(port: server.port) }
                for c in held {
                    try c.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
                    let r = try c.readResponse()
                    #expect(r.status == 200, "\(r.status) \(r.text) port \(server.port)")
                }
                let fourth = try RawConnection(port: server.port)
                let refused = try fourth.readResponse()
                #expect(refused.status == 503)
                #expect(refused.text.contains("too many open connections from this address"))
                held[0].close()
                var waited = 0
                while server.server.openConnectionCount > 2, waited < 200 {
                    Thread.sleep(forTimeInterval: 0.01)
                    waited += 1
                }
                #expect(server.server.openConnectionCount == 2)
                let again = try RawConnection(port: server.port)
                try again.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
                #expect(try again.readResponse().status == 200, "a closed connection makes room")
                withExtendedLifetime(held) {}
            }
        }
    }

    @Test func aTrustedProxyHasNoAddressCap() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.maxConnectionsPerAddress = 2
        configuration.headerTimeout = .seconds(10)
        configuration.isExemptFromAddressCap = { $0 == "127.0.0.1" }
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let held = try (0..<4).map { _ in try RawConnection(port: server.port) }
                for c in held {
                    try c.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
                    #expect(try c.readResponse().status == 200)
                }
            }
        }
    }

    /// Near the global cap an idle keep-alive connection is closed sooner (1 s at the cap, not 5).
    @Test func idleTimeShrinksNearTheCap() async throws {
        var configuration = TestServer.defaultConfiguration
        configuration.maxConnections = 4
        configuration.idleTimeout = .seconds(5)
        configuration.headerTimeout = .seconds(10)  // the three that send nothing stay open
        try await TestServer.with(configuration: configuration, responder: testRouter()) { server in
            try await blocking {
                let held = try (0..<4).map { _ in try RawConnection(port: server.port) }
                Thread.sleep(forTimeInterval: 0.1)
                let last = held[3]
                try last.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
                #expect(try last.readResponse().status == 200)
                let started = Date()
                last.setTimeout(4)
                _ = try? last.readUntilClosed()
                let waited = Date().timeIntervalSince(started)
                #expect(waited < 2.5, "closed after \(waited) s")
                withExtendedLifetime(held) {}
            }
        }
    }

    /// Out of descriptors, `accept` fails while the connection stays queued; the server must not
    /// spin on it, and must serve it once descriptors are back.
    @Test func acceptFailuresBackOffAndRecover() async throws {
        let failing = Atomic<Bool>(true)
        let attempts = Atomic<Int>(0)
        var logger = Logger(label: "test.accept")
        logger.logLevel = .critical
        var configuration = TestServer.defaultConfiguration
        configuration.headerTimeout = .seconds(5)
        let server = Server(configuration: configuration, responder: testRouter(), logger: logger) { listener in
            attempts.add(1, ordering: .relaxed)
            return failing.load(ordering: .relaxed) ? .failed(EMFILE) : Socket.accept(listener)
        }
        try server.start()
        let port = try #require(server.localPort)
        let (tries, status) = try await blocking { () -> (Int, Int) in
            let client = try RawConnection(port: port, timeout: 5)
            try client.send(crlf: "GET /hello HTTP/1.1\nHost: x\n\n")
            Thread.sleep(forTimeInterval: 0.6)
            let tries = attempts.load(ordering: .relaxed)
            failing.store(false, ordering: .relaxed)
            return (tries, try client.readResponse().status)
        }
        #expect(tries >= 2 && tries <= 8, "\(tries) accept attempts in 600 ms: it should back off, not spin")
        #expect(status == 200, "served once descriptors were back")
        #expect(server.acceptFailureCount == tries)
        await server.shutdown(gracePeriod: .seconds(1))
    }
}
