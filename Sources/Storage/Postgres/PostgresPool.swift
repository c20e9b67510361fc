import ChatCore

/// A bounded pool of PostgreSQL connections.
///
/// `acquire` hands out an idle connection (the lessee checks its health first), opens a new one while
/// under `size`, or waits up to `acquireTimeout`, then fails with `SQLError.unavailable`, so
/// a request never hangs on a database that is down or saturated. A connection that breaks
/// is dropped on release, and with it every idle connection opened before the failure (as
/// pgx and postgres-nio do): after a server restart or killed backends they are all dead,
/// and each would otherwise fail one request before being found out.
actor PostgresPool {
    private let url: String
    private let size: Int
    private let acquireTimeout: Duration
    private var idle: [PostgresConnection] = []
    private var open = 0
    private var waiters: [(id: Int, continuation: CheckedContinuation<PostgresConnection, any Error>)] = []
    private var nextWaiter = 0
    private var closed = false
    /// When a connection was last found broken; idle ones opened before it are not trusted.
    private var lastFailure: ContinuousClock.Instant?

    init(url: String, size: Int, acquireTimeout: Duration) {
        self.url = url
        self.size = size
        self.acquireTimeout = acquireTimeout
    }

    func acquire() async throws -> PostgresConnection {
        guard !closed else { throw SQLError(.unavailable, "the database pool is closed") }
        while let connection = idle.popLast() {
            if let lastFailure, connection.openedAt <= lastFailure {
                open -= 1
                await connection.close()
                continue
            }
            // Its health is checked by the lessee, on the connection's own queue.
            return connection
        }
        if open < size {
            open += 1
            let connection: PostgresConnection
            do {
                connection = try await PostgresConnection.connect(url: url, label: "parley.postgres.\(open)")
            } catch {
                open -= 1
                throw error
            }
            try await dropIfClosed(connection)
            return connection
        }
        let id = nextWaiter
        nextWaiter += 1
        let timeout = acquireTimeout
        let timer = Task { [weak self] in
            try? await CancellableSleep.for(timeout)
            await self?.expire(id)
        }
        defer { timer.cancel() }
        return try await withCheckedThrowingContinuation { waiters.append((id, $0)) }
    }

    /// The actor may have run `close()` while a task awaited: a connection it got meanwhile is
    /// closed, not handed out.
    private func dropIfClosed(_ connection: PostgresConnection) async throws {
        guard closed else { return }
        open -= 1
        await connection.close()
        throw SQLError(.unavailable, "the database pool is closed")
    }

    private func expire(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(
            throwing: SQLError(.unavailable, "no database connection became free within \(acquireTimeout)")
        )
    }

    func release(_ connection: PostgresConnection, broken: Bool) async {
        if broken {
            let failedAt = ContinuousClock.now
            lastFailure = failedAt
            let stale = idle.filter { $0.openedAt <= failedAt }
            idle.removeAll { $0.openedAt <= failedAt }
            open -= stale.count
            for old in stale { await old.close() }
        }
        if broken || closed {
            open -= 1
            await connection.close()
            // A waiter may now open a connection of its own.
            if !waiters.isEmpty, !closed, open < size {
                let waiter = waiters.removeFirst()
                open += 1
                do {
                    waiter.continuation.resume(returning: try await PostgresConnection.connect(url: url, label: "parley.postgres.\(open)"))
                } catch {
                    open -= 1
                    waiter.continuation.resume(throwing: error)
                }
            }
            return
        }
        if !waiters.isEmpty {
            waiters.removeFirst().continuation.resume(returning: connection)
        } else {
            idle.append(connection)
        }
    }

    func close() async {
        closed = true
        for waiter in waiters { waiter.continuation.resume(throwing: SQLError(.unavailable, "the database pool is closed")) }
        waiters = []
        // Taken out before the first await: the actor may run other calls while they close.
        let closing = idle
        idle = []
        open -= closing.count
        for connection in closing { await connection.close() }
    }
}
