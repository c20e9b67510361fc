import Logging
import Synchronization

/// What every connection of one server shares: configuration, responder, logger, the
/// registry of open connections and a few counters.
final class ServerContext: Sendable {
    let configuration: ServerConfiguration
    let responder: any HTTPResponder
    let logger: Logger
    private let connections = Mutex<[Int: Connection]>([:])
    private let responses = Atomic<Int>(0)
    private let peakBuffered = Atomic<Int>(0)
    private let bodyBytes = Atomic<Int>(0)

    init(configuration: ServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
    }

    /// Registers a connection unless the cap is reached; false means refuse it.
    func register(_ connection: Connection) -> Bool {
        connections.withLock { open in
            guard open.count < configuration.maxConnections else { return false }
            open[connection.id] = connection
            return true
        }
    }

    func connectionClosed(_ connection: Connection) {
        _ = connections.withLock { $0.removeValue(forKey: connection.id) }
    }

    var openConnections: [Connection] { connections.withLock { Array($0.values) } }
    var openConnectionCount: Int { connections.withLock { $0.count } }

    /// Takes `count` bytes of the request-body budget; false (nothing taken) if that would go past it.
    func reserveBodyBytes(_ count: Int) -> Bool {
        var current = bodyBytes.load(ordering: .relaxed)
        while true {
            guard current + count <= configuration.maxBodyBytesInFlight else { return false }
            let (exchanged, original) = bodyBytes.compareExchange(expected: current, desired: current + count, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
    }

    func releaseBodyBytes(_ count: Int) {
        if count > 0 { bodyBytes.subtract(count, ordering: .relaxed) }
    }

    /// Request body bytes being received right now, across all connections.
    var bodyBytesInFlight: Int { bodyBytes.load(ordering: .relaxed) }

    func recordResponse() { responses.add(1, ordering: .relaxed) }
    var responseCount: Int { responses.load(ordering: .relaxed) }

    /// Remembers the largest response backlog any connection had to hold for a slow client.
    func recordBuffered(_ bytes: Int) {
        var seen = peakBuffered.load(ordering: .relaxed)
        while bytes > seen {
            let (exchanged, original) = peakBuffered.compareExchange(expected: seen, desired: bytes, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }
    var peakBufferedBytes: Int { peakBuffered.load(ordering: .relaxed) }
}
