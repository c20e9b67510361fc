import Logging
import Synchronization

/// What every connection of one server shares: configuration, responder, logger, the
/// registry of open connections and a few counters.
final class ServerContext: Sendable {
    let configuration: ServerConfiguration
    let responder: any HTTPResponder
    let logger: Logger
    private struct Open {
        var byID: [Int: Connection] = [:]
        var byAddress: [String: Int] = [:]
    }

    /// Why a connection was not registered.
    enum Refusal {
        case serverFull, addressFull
    }

    private let open = Mutex(Open())
    private let responses = Atomic<Int>(0)
    private let peakBuffered = Atomic<Int>(0)
    private let bodyBytes = Atomic<Int>(0)
    /// `open.byID.count`, readable without the lock: every response re-arms an idle timer
    /// whose length depends on it.
    private let openCount = Atomic<Int>(0)

    init(configuration: ServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.configuration = configuration
        self.responder = responder
        self.logger = logger
    }

    /// Registers a connection unless a cap is reached (the server's, or its address's); nil
    /// when registered, else why it must be refused.
    func register(_ connection: Connection) -> Refusal? {
        let exempt = configuration.isExemptFromAddressCap(connection.remoteAddress)
        return open.withLock { open in
            guard open.byID.count < configuration.maxConnections else { return .serverFull }
            let fromAddress = open.byAddress[connection.remoteAddress, default: 0]
            if !exempt, fromAddress >= configuration.maxConnectionsPerAddress { return .addressFull }
            open.byID[connection.id] = connection
            open.byAddress[connection.remoteAddress] = fromAddress + 1
            openCount.store(open.byID.count, ordering: .relaxed)
            return nil
        }
    }

    func connectionClosed(_ connection: Connection) {
        open.withLock { open in
            guard open.byID.removeValue(forKey: connection.id) != nil else { return }
            openCount.store(open.byID.count, ordering: .relaxed)
            let left = open.byAddress[connection.remoteAddress, default: 1] - 1
            open.byAddress[connection.remoteAddress] = left > 0 ? left : nil
        }
    }

    var openConnections: [Connection] { open.withLock { Array($0.byID.values) } }
    var openConnectionCount: Int { openCount.load(ordering: .relaxed) }

    /// The keep-alive idle time now: the configured one, shrinking linearly from three quarters
    /// of the connection cap to one second at the cap.
    var idleTimeout: Duration {
        let configured = configuration.idleTimeout
        let fill = Double(openConnectionCount) / Double(max(1, configuration.maxConnections))
        guard fill > 0.75 else { return configured }
        let scaled = configured * max(0, (1 - fill) * 4)
        return max(min(configured, .seconds(1)), scaled)
    }

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
