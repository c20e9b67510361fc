#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
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

    public init(configuration: ServerConfiguration, responder: any HTTPResponder, logger: Logger) {
        context = ServerContext(configuration: configuration, responder: responder, logger: logger)
        ioQueues = (0..<max(1, configuration.ioQueueCount)).map { IOQueue(label: "parley.http.io.\($0)") }
    }

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
            guard let (fd, address) = Socket.accept(listener) else { return }
            let id = nextConnectionID.add(1, ordering: .relaxed).newValue
            let io = ioQueues[id % ioQueues.count]
            let connection = Connection(id: id, fd: fd, remoteAddress: address, io: io, context: context)
            guard context.register(connection) else {
                refuse(fd)
                continue
            }
            connection.start()
        }
    }

    /// Answers a connection over the cap with 503 and closes it. The socket is new, so its
    /// send buffer is empty and the short answer fits in one non-blocking send.
    private func refuse(_ fd: Int32) {
        context.logger.warning("connection refused: too many open connections", metadata: ["parley.limit": "\(context.configuration.maxConnections)"])
        let response = Response.problem(.serviceUnavailable, detail: "the server has too many open connections; retry shortly",
                                        extraHeaders: HTTPFields([("Retry-After", "1")]))
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
        listener.source.cancel()
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
