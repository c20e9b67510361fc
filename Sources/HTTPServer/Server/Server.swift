#if canImport(Glibc)
import Glibc
#endif
import Dispatch
public import Logging
import Synchronization

/// An HTTP/1.1 server on non-blocking sockets driven by Dispatch sources.
///
/// It knows nothing of the application: it parses requests, asks its `HTTPResponder` for
/// responses and writes them back. `start()` binds and begins accepting; `shutdown` stops
/// accepting, lets requests in flight finish for a grace period, then closes the rest.
public final class Server: Sendable {
    private enum State {
        case idle
        case running(listener: ListenerSource, port: Int)
        case stopped
    }

    private let context: ServerContext
    private let ioQueues: [IOQueue]
    private let acceptQueue = DispatchQueue(label: "parley.http.accept")
    private let state = Mutex<State>(.idle)
    private let nextConnectionID = Atomic<Int>(0)
    /// Takes one connection off the listening socket (a seam for tests of accept failures).
    private let acceptOne: @Sendable (Int32) -> Socket.Accepted
    /// Accept failures in a row and whether the accept source is paused; only touched on `acceptQueue`.
    private let acceptTrouble = Mutex<(failures: Int, paused: Bool)>((0, false))

    public convenience init(configuration: ServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        self.init(configuration: configuration, responder: responder, logger: logger, accept: Socket.accept)
    }

    init(configuration: ServerConfiguration, responder: any HTTPResponder, logger: Logger, accept: @escaping @Sendable (Int32) -> Socket.Accepted) {
        context = ServerContext(configuration: configuration, responder: responder, logger: logger)
        ioQueues = (0..<max(1, configuration.ioQueueCount)).map { IOQueue(label: "parley.http.io.\($0)") }
        acceptOne = accept
    }

    /// Times `accept` failed (out of descriptors or memory) since the server started.
    public var acceptFailureCount: Int { acceptFailures.load(ordering: .relaxed) }
    private let acceptFailures = Atomic<Int>(0)

    /// The port the server listens on (the real one when configured with port 0), or nil before `start()`.
    public var localPort: Int? {
        state.withLock {
            if case .running(_, let port) = $0 { return port }
            return nil
        }
    }

    /// Connections open right now.
    public var openConnectionCount: Int { context.openConnectionCount }

    /// Responses written since the server started.
    public var responseCount: Int { context.responseCount }

    /// The most response bytes any connection ever held for a slow reader: shows that
    /// back-pressure kept memory bounded.
    public var peakBufferedBytes: Int { context.peakBufferedBytes }

    /// Binds the listening socket and starts accepting connections.
    public func start() throws(SocketError) {
        let configuration = context.configuration
        let (fd, port) = try Socket.listen(host: configuration.host, port: configuration.port, backlog: configuration.backlog)
        let source = makeAcceptSource(fd)
        let listener = ListenerSource(source: source)
        state.withLock { $0 = .running(listener: listener, port: port) }
        source.resume()
        context.logger.info("listening", metadata: ["parley.host": "\(configuration.host)", "parley.port": "\(port)"])
    }

    private func makeAcceptSource(_ fd: Int32) -> any DispatchSourceRead {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: acceptQueue)
        source.setEventHandler { @Sendable [self] in acceptPending(fd) }
        source.setCancelHandler { @Sendable in _ = Glibc.close(fd) }
        return source
    }

    /// Accepts every connection waiting (a bounded batch, so one busy listener cannot starve the queue).
    private func acceptPending(_ listener: Int32) {
        for _ in 0..<256 {
            switch acceptOne(listener) {
            case .none:
                return
            case .failed(let code):
                backOff(code)
                return
            case .connection(let fd, let address):
                recovered()
                let id = nextConnectionID.add(1, ordering: .relaxed).newValue
                let io = ioQueues[id % ioQueues.count]
                let connection = Connection(id: id, fd: fd, remoteAddress: address, io: io, context: context)
                if let refusal = context.register(connection) {
                    refuse(fd, refusal, address: address)
                    continue
                }
                connection.start()
            }
        }
    }

    /// `accept` failed (no descriptor or memory left): the connection stays in the backlog and
    /// the level-triggered source would fire again at once, spinning a core. Pause it, and try
    /// again after 50 ms, doubling to 1 s while the failures last; log once per episode.
    private func backOff(_ code: Int32) {
        acceptFailures.add(1, ordering: .relaxed)
        let failures = acceptTrouble.withLock { trouble in
            trouble.failures += 1
            trouble.paused = true
            return trouble.failures
        }
        if failures == 1 {
            context.logger.error("cannot accept connections; backing off until descriptors free up", metadata: [
                "parley.error": "\(String(cString: strerror(code)))", "parley.connections": "\(context.openConnectionCount)",
            ])
        }
        guard case .running(let listener, _) = state.withLock({ $0 }) else { return }
        listener.source.suspend()
        let delay = min(1000, 50 << min(failures - 1, 5))
        acceptQueue.asyncAfter(deadline: .now() + .milliseconds(delay)) { [self] in
            let resume = acceptTrouble.withLock { trouble in
                defer { trouble.paused = false }
                return trouble.paused
            }
            if resume { listener.source.resume() }
        }
    }

    private func recovered() {
        let failures = acceptTrouble.withLock { trouble in
            defer { trouble.failures = 0 }
            return trouble.failures
        }
        if failures > 0 { context.logger.notice("accepting connections again", metadata: ["parley.failures": "\(failures)"]) }
    }

    /// Answers a connection over a cap with 503 and closes it. The socket is new, so its
    /// send buffer is empty and the short answer fits in one non-blocking send.
    private func refuse(_ fd: Int32, _ refusal: ServerContext.Refusal, address: String) {
        let detail: String
        switch refusal {
        case .serverFull:
            context.logger.warning("connection refused: too many open connections", metadata: ["parley.limit": "\(context.configuration.maxConnections)"])
            detail = "the server has too many open connections; retry shortly"
        case .addressFull:
            context.logger.warning("connection refused: too many open connections from one address", metadata: [
                "parley.client": "\(address)", "parley.limit": "\(context.configuration.maxConnectionsPerAddress)",
            ])
            detail = "too many open connections from this address; close some and retry"
        }
        let response = Response.problem(.serviceUnavailable, detail: detail, extraHeaders: HTTPFields([("Retry-After", "1")]))
        var bytes: [UInt8] = []
        if case .bytes(let body) = response.body {
            ResponseHeadEncoder.encode(response, framing: .length(body.count), keepAlive: false, requestVersion: .http1_1, into: &bytes)
            bytes.append(contentsOf: body)
        }
        _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
        Glibc.shutdown(fd, Int32(SHUT_WR))
        Glibc.close(fd)
    }

    /// Stops accepting, closes idle connections, lets requests in flight finish for up to
    /// `gracePeriod`, then closes whatever is still open (cancelling its handler).
    public func shutdown(gracePeriod: Duration) async {
        let listener: ListenerSource? = state.withLock { state in
            defer { state = .stopped }
            if case .running(let listener, _) = state { return listener }
            return nil
        }
        guard let listener else { return }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            acceptQueue.async { [self] in
                // A paused source must be resumed before it is cancelled (and released).
                let paused = acceptTrouble.withLock { trouble in
                    defer { trouble.paused = false }
                    return trouble.paused
                }
                if paused { listener.source.resume() }
                listener.source.cancel()
                done.resume()
            }
        }
        let open = context.openConnections
        context.logger.info("shutting down", metadata: ["parley.connections": "\(open.count)"])
        for connection in open { connection.drain() }

        let clock = ContinuousClock()
        let deadline = clock.now + gracePeriod
        while context.openConnectionCount > 0, clock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        let remaining = context.openConnections
        if !remaining.isEmpty {
            context.logger.warning("grace period over; closing connections", metadata: ["parley.connections": "\(remaining.count)"])
            for connection in remaining { connection.forceClose() }
            let closeDeadline = clock.now + .seconds(2)
            while context.openConnectionCount > 0, clock.now < closeDeadline {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        context.logger.info("stopped")
    }
}

/// The accept source, held so it keeps firing until shutdown cancels it.
///
/// `@unchecked Sendable`: Dispatch sources are thread-safe objects (resume and cancel may be
/// called from any thread), and the reference itself never changes after `start()`.
struct ListenerSource: @unchecked Sendable {
    let source: any DispatchSourceRead
}
