public import HTTPServer
import Logging

/// A server on 127.0.0.1 (or `::1`) at a port the kernel picks, for one test.
public struct TestServer: Sendable {
    public let server: Server
    public let port: Int

    /// Short timeouts so timeout tests finish quickly; everything else as in production.
    public static var defaultConfiguration: ServerConfiguration {
        var configuration = ServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.headerTimeout = .milliseconds(500)
        configuration.bodyTimeout = .milliseconds(500)
        configuration.idleTimeout = .seconds(5)
        configuration.writeTimeout = .seconds(5)
        // Every test client comes from 127.0.0.1: the per-address cap has tests of its own.
        configuration.maxConnectionsPerAddress = configuration.maxConnections
        return configuration
    }

    /// Starts a server, runs `body` against it, and always shuts it down, even when `body` throws.
    public static func with<T: Sendable>(
        configuration: ServerConfiguration = defaultConfiguration,
        responder: any HTTPResponder,
        _ body: (TestServer) async throws -> T
    ) async throws -> T {
        var logger = Logger(label: "parley.test.http")
        logger.logLevel = .critical
        let server = Server(configuration: configuration, responder: responder, logger: logger)
        try server.start()
        guard let port = server.localPort else { throw TestServerError.notListening }
        let handle = TestServer(server: server, port: port)
        do {
            let result = try await body(handle)
            await server.shutdown(gracePeriod: .seconds(1))
            return result
        } catch {
            await server.shutdown(gracePeriod: .seconds(1))
            throw error
        }
    }
}

public enum TestServerError: Error {
    case notListening
}

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns its last value.
/// For state that settles asynchronously (a connection count after the client closed).
public func eventually(timeout: Duration = .seconds(2), _ condition: @Sendable () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while !condition() {
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return true
}
