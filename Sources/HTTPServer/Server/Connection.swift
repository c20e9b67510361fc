#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Logging

/// One client connection: reads and parses requests, runs each through the responder in a
/// task, and writes responses back in order.
///
/// Requests on a connection are handled one at a time, so pipelined requests are answered
/// in the order they came; bytes of the next ones are buffered (up to a limit) meanwhile.
/// Reading goes on while a handler runs, so a client that disconnects is seen at once and
/// its handler's task is cancelled.
///
/// Thread safety: every mutable property is touched only on `io.queue`, a serial queue.
/// Event handlers of the sources and the timer run there; code arriving from handler tasks
/// hops onto it with `io.queue.async`. That confinement is what makes `@unchecked Sendable` safe.
final class Connection: @unchecked Sendable {
    enum Phase {
        case awaitingHead
        case readingBody(RequestHead, limit: Int)
        case handling(Task<Void, Never>?)
        /// A final response is being flushed; then the write side is shut and input drained.
        case closing
        case closed
    }

    private enum TimerKind {
        case none, idle, head, body, write, linger
    }

    let id: Int
    let fd: Int32
    let remoteAddress: String
    private let io: IOQueue
    private let context: ServerContext

    private var readSource: (any DispatchSourceRead)?
    private var writeSource: (any DispatchSourceWrite)?
    private var writeSourceResumed = false
    private var readPaused = false
    private var openSources = 0
    /// Made in `startOnQueue`: a Dispatch source released while never resumed traps, and a
    /// connection refused at the cap is released without ever starting.
    private var timer: (any DispatchSourceTimer)?
    private var timerKind: TimerKind = .none

    private var inbound: [UInt8] = []
    private var readIndex = 0
    private var parser: RequestParser
    private var body: [UInt8] = []
    private var trailers = HTTPFields()
    private var phase: Phase = .awaitingHead
    private var requestsServed = 0

    private var outbound: [UInt8] = []
    private var outboundIndex = 0
    private var writeWaiter: CheckedContinuation<Void, any Error>?
    private var streamFraming: ResponseFraming = .chunked
    private var currentKeepAlive = true
    private var draining = false

    init(id: Int, fd: Int32, remoteAddress: String, io: IOQueue, context: ServerContext) {
        self.id = id
        self.fd = fd
        self.remoteAddress = remoteAddress
        self.io = io
        self.context = context
        self.parser = RequestParser(limits: context.configuration.parserLimits)
    }

    // MARK: - Lifecycle

    /// Starts reading. Called once, on any thread; the work happens on the connection's queue.
    func start() {
        io.queue.async { self.startOnQueue() }
    }

    private func startOnQueue() {
        let source = DispatchSource.makeReadSource(fileDescriptor: fd, queue: io.queue)
        source.setEventHandler { [self] in readable() }
        source.setCancelHandler { [self] in sourceCancelled() }
        readSource = source
        openSources += 1
        let timer = DispatchSource.makeTimerSource(queue: io.queue)
        timer.setEventHandler { [self] in timerFired() }
        timer.resume()
        self.timer = timer
        // The first request gets the header timeout from the moment of connecting.
        arm(.head, context.configuration.headerTimeout)
        source.resume()
    }

    /// Asks the connection to finish what it is doing and close (graceful shutdown).
    func drain() {
        io.queue.async {
            self.draining = true
            if case .awaitingHead = self.phase, self.parser.isIdle, self.readIndex == self.inbound.count,
               self.outboundIndex == self.outbound.count {
                self.close()
            }
        }
    }

    /// Closes now, cancelling any handler (the end of a shutdown's grace period).
    func forceClose() {
        io.queue.async { self.close() }
    }

    /// Tears the connection down: cancels the handler's task, fails a waiting writer, and
    /// cancels the sources; the descriptor is closed once both sources' cancel handlers ran.
    private func close() {
        if case .closed = phase { return }
        if case .handling(let task) = phase { task?.cancel() }
        phase = .closed
        writeWaiter?.resume(throwing: ConnectionClosedError())
        writeWaiter = nil
        timer?.cancel()
        if let readSource {
            if readPaused { readSource.resume() }
            readSource.cancel()
        }
        if let writeSource {
            if !writeSourceResumed { writeSource.resume() }
            writeSource.cancel()
        }
        inbound = []
        outbound = []
        body = []
        context.connectionClosed(self)
    }

    private func sourceCancelled() {
        openSources -= 1
        if openSources == 0 { Glibc.close(fd) }
    }

    // MARK: - Reading

    private func readable() {
        if case .closed = phase { return }
        let n = recv(fd, io.scratch.baseAddress, io.scratch.count, 0)
        if n > 0 {
            if case .closing = phase { return }  // draining input after a final response
            inbound.append(contentsOf: UnsafeRawBufferPointer(start: io.scratch.baseAddress, count: n))
            switch phase {
            case .awaitingHead, .readingBody:
                process()
            case .handling:
                if inbound.count - readIndex > context.configuration.maxPipelinedBytes { pauseReading() }
            case .closing, .closed:
                break
            }
        } else if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
            // The client closed or reset the connection. A running handler is cancelled now:
            // nobody is left to read its answer.
            if case .handling = phase {
                context.logger.debug("client went away during a request", metadata: ["parley.connection": "\(id)"])
            }
            close()
        }
    }

    private func pauseReading() {
        guard !readPaused, let readSource else { return }
        readPaused = true
        readSource.suspend()
    }

    private func resumeReading() {
        guard readPaused, let readSource else { return }
        readPaused = false
        readSource.resume()
    }

    /// Feeds buffered bytes to the parser until a request is complete or more bytes are needed.
    private func process() {
        loop: while true {
            switch phase {
            case .awaitingHead, .readingBody: break
            default: break loop
            }
            let event: RequestParser.Event?
            do {
                event = try parser.next(inbound, &readIndex)
            } catch {
                reject(error.status, detail: error.detail)
                return
            }
            guard let event else {
                if case .awaitingHead = phase, !parser.isIdle || readIndex < inbound.count, timerKind == .idle {
                    arm(.head, context.configuration.headerTimeout)
                }
                break
            }
            switch event {
            case .head(let head):
                guard beginBody(head) else { return }
            case .body(let slice):
                guard case .readingBody(_, let limit) = phase else { break }
                guard body.count + slice.count <= limit else {
                    reject(.contentTooLarge, detail: "request body larger than \(limit) bytes")
                    return
                }
                body.append(contentsOf: slice)
            case .end(let fields):
                trailers = fields
                dispatchRequest()
            }
        }
        compactInbound()
    }

    /// Checks the declared body against the route's limit before reading any of it, and
    /// sends `100 Continue` when the client waits for it. Returns false if the request was refused.
    private func beginBody(_ head: RequestHead) -> Bool {
        body = []
        trailers = HTTPFields()
        switch head.framing {
        case .none:
            phase = .readingBody(head, limit: 0)
            return true
        case .length(let n):
            let limit = context.responder.bodyLimit(for: head)
            guard n <= limit else {
                reject(.contentTooLarge, detail: "request body of \(n) bytes is larger than the limit of \(limit) bytes")
                return false
            }
            phase = .readingBody(head, limit: limit)
            if n > 0 { body.reserveCapacity(n) }
            if n == 0 { return true }
        case .chunked:
            phase = .readingBody(head, limit: context.responder.bodyLimit(for: head))
        }
        if head.expectsContinue {
            outbound.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
            flush()
        }
        arm(.body, context.configuration.bodyTimeout)
        return true
    }

    private func compactInbound() {
        if readIndex == inbound.count {
            // Keep a small buffer for the next request; give large ones back, so thousands of
            // idle keep-alive and streaming connections hold little memory.
            if inbound.capacity > 4096 { inbound = [] } else { inbound.removeAll(keepingCapacity: true) }
            readIndex = 0
        } else if readIndex > 16 * 1024 {
            inbound.removeFirst(readIndex)
            readIndex = 0
        }
    }

    // MARK: - Handling

    private func dispatchRequest() {
        guard case .readingBody(let head, _) = phase else { return }
        disarm()
        let request = Request(
            method: head.method, target: head.target, version: head.version, headers: head.headers,
            body: body, trailers: trailers, remoteAddress: remoteAddress
        )
        body = []
        trailers = HTTPFields()
        let responder = context.responder
        // The task cannot get back onto this queue before this function returns, so the
        // phase is set before anything the task does can look at it.
        phase = .handling(Task {
            let response = await responder.respond(to: request)
            await self.send(response, for: head)
        })
    }

    /// Writes a response; for a streamed body, runs its producer with back-pressure.
    /// Runs in the handler's task, hopping to the connection's queue for every socket step.
    private func send(_ response: Response, for head: RequestHead) async {
        switch response.body {
        case .bytes(let bytes):
            io.queue.async { self.writeComplete(response, bytes: bytes, head: head) }
        case .stream(let produce):
            guard await onQueue({ self.writeStreamHead(response, head: head) }) else { return }
            if head.method == .head {
                io.queue.async { self.finishStream(bodySent: false) }
                return
            }
            let writer = ResponseBodyWriter { bytes in try await self.writeBody(bytes) }
            do {
                try await produce(writer)
                io.queue.async { self.finishStream(bodySent: true) }
            } catch {
                // A half-sent body cannot be completed or replaced by an error: end the connection.
                if !(error is ConnectionClosedError) && !(error is CancellationError) {
                    context.logger.warning("response stream failed", metadata: ["parley.error.type": "\(type(of: error))"])
                }
                io.queue.async { self.close() }
            }
        }
    }

    private func onQueue<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            io.queue.async { continuation.resume(returning: body()) }
        }
    }

    private func keepAliveDecision(_ head: RequestHead, framing: ResponseFraming) -> Bool {
        if case .untilClose = framing { return false }
        return head.keepAlive && !draining
    }

    private func writeComplete(_ response: Response, bytes: [UInt8], head: RequestHead) {
        guard case .handling = phase else { return }
        let framing = ResponseFraming.length(response.status.forbidsBody ? 0 : bytes.count)
        let keepAlive = keepAliveDecision(head, framing: framing)
        ResponseHeadEncoder.encode(response, framing: framing, keepAlive: keepAlive, requestVersion: head.version, into: &outbound)
        if head.method != .head && !response.status.forbidsBody { outbound.append(contentsOf: bytes) }
        context.recordResponse()
        responseComplete(keepAlive: keepAlive)
    }

    private func writeStreamHead(_ response: Response, head: RequestHead) -> Bool {
        guard case .handling = phase else { return false }
        streamFraming = head.version == .http1_1 ? .chunked : .untilClose
        currentKeepAlive = keepAliveDecision(head, framing: streamFraming)
        ResponseHeadEncoder.encode(
            response, framing: streamFraming, keepAlive: currentKeepAlive, requestVersion: head.version, into: &outbound
        )
        flush()
        if case .closed = phase { return false }
        return true
    }

    private func writeBody(_ bytes: [UInt8]) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            io.queue.async {
                guard case .handling = self.phase else {
                    continuation.resume(throwing: ConnectionClosedError())
                    return
                }
                if case .chunked = self.streamFraming {
                    ChunkedEncoder.appendChunk(bytes, to: &self.outbound)
                } else {
                    self.outbound.append(contentsOf: bytes)
                }
                self.flush()
                if case .closed = self.phase {
                    continuation.resume(throwing: ConnectionClosedError())
                } else if self.pendingOutbound > self.context.configuration.outboundHighWaterMark {
                    // The client is slower than the producer: suspend it until the buffer drains.
                    self.writeWaiter = continuation
                } else {
                    continuation.resume()
                }
            }
        }
    }

    private func finishStream(bodySent: Bool) {
        guard case .handling = phase else { return }
        if bodySent, case .chunked = streamFraming { outbound.append(contentsOf: ChunkedEncoder.terminator) }
        context.recordResponse()
        responseComplete(keepAlive: currentKeepAlive)
    }

    /// After a response: close if it was the last, otherwise go back to reading and handle
    /// any pipelined request already buffered.
    private func responseComplete(keepAlive: Bool) {
        requestsServed += 1
        guard keepAlive else {
            phase = .closing
            flush()
            return
        }
        phase = .awaitingHead
        resumeReading()
        flush()
        if case .closed = phase { return }
        if draining, readIndex == inbound.count {
            phase = .closing
            flush()
            return
        }
        if timerKind != .write { arm(.idle, context.configuration.idleTimeout) }
        process()
    }

    // MARK: - Writing

    private var pendingOutbound: Int { outbound.count - outboundIndex }

    /// Writes as much of the outbound buffer as the socket takes; waits for writability
    /// for the rest. Resumes a suspended producer once the buffer is half drained.
    private func flush() {
        if case .closed = phase { return }
        while outboundIndex < outbound.count {
            let n = outbound.withUnsafeBytes { raw -> Int in
                guard let base = raw.baseAddress else { return 0 }
                return Glibc.send(fd, base + outboundIndex, raw.count - outboundIndex, Int32(MSG_NOSIGNAL))
            }
            if n > 0 {
                outboundIndex += n
                continue
            }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                context.recordBuffered(pendingOutbound)
                waitForWritable()
                if timerKind != .write { arm(.write, context.configuration.writeTimeout) }
                if outboundIndex > 64 * 1024 {
                    outbound.removeFirst(outboundIndex)
                    outboundIndex = 0
                }
                resumeWriterIfDrained()
                return
            }
            close()  // EPIPE, ECONNRESET: the client is gone.
            return
        }
        if outbound.capacity > 16 * 1024 { outbound = [] } else { outbound.removeAll(keepingCapacity: true) }
        outboundIndex = 0
        if writeSourceResumed, let writeSource {
            writeSource.suspend()
            writeSourceResumed = false
        }
        resumeWriterIfDrained()
        if timerKind == .write { rearmAfterWrite() }
        if case .closing = phase { lingerClose() }
    }

    private func resumeWriterIfDrained() {
        guard let waiter = writeWaiter, pendingOutbound <= context.configuration.outboundHighWaterMark / 2 else { return }
        writeWaiter = nil
        waiter.resume()
    }

    private func waitForWritable() {
        if writeSource == nil {
            let source = DispatchSource.makeWriteSource(fileDescriptor: fd, queue: io.queue)
            source.setEventHandler { [self] in
                if timerKind == .write { arm(.write, context.configuration.writeTimeout) }
                flush()
            }
            source.setCancelHandler { [self] in sourceCancelled() }
            openSources += 1
            writeSource = source
        }
        if !writeSourceResumed, let writeSource {
            writeSourceResumed = true
            writeSource.resume()
        }
    }

    /// After the last response: shut the write side so the client sees the end, then read
    /// and discard what it still sends for a moment before closing. Closing with unread
    /// input would make the kernel send a reset that can destroy the response in flight.
    private func lingerClose() {
        Glibc.shutdown(fd, Int32(SHUT_WR))
        inbound = []
        readIndex = 0
        resumeReading()
        arm(.linger, .seconds(2))
    }

    private func reject(_ status: HTTPStatus, detail: String) {
        if case .handling = phase { return }
        context.logger.debug(
            "refused request", metadata: ["parley.connection": "\(id)", "parley.status": "\(status.code)", "parley.detail": "\(detail)"]
        )
        let response = Response.problem(status, detail: detail)
        if case .bytes(let bytes) = response.body {
            ResponseHeadEncoder.encode(response, framing: .length(bytes.count), keepAlive: false, requestVersion: .http1_1, into: &outbound)
            outbound.append(contentsOf: bytes)
        }
        context.recordResponse()
        phase = .closing
        flush()
    }

    // MARK: - Timeouts

    private func arm(_ kind: TimerKind, _ after: Duration) {
        timerKind = kind
        timer?.schedule(deadline: .now() + .nanoseconds(after.dispatchNanoseconds), leeway: .milliseconds(50))
    }

    private func disarm() {
        timerKind = .none
        timer?.schedule(deadline: .distantFuture)
    }

    private func rearmAfterWrite() {
        switch phase {
        case .awaitingHead: arm(.idle, context.configuration.idleTimeout)
        case .closing: arm(.linger, .seconds(2))
        default: disarm()
        }
    }

    private func timerFired() {
        switch timerKind {
        case .none:
            return
        case .idle, .linger:
            close()
        case .head:
            if parser.isIdle && readIndex == inbound.count && requestsServed > 0 {
                close()
            } else {
                reject(.requestTimeout, detail: "request head not received within the header timeout")
            }
        case .body:
            reject(.requestTimeout, detail: "request body not received within the body timeout")
        case .write:
            context.logger.debug("client stopped reading; dropping the connection", metadata: ["parley.connection": "\(id)"])
            close()
        }
        if case .closing = phase, timerKind != .linger { arm(.linger, .seconds(2)) }
    }
}

/// A serial queue that a share of the connections use, with a read buffer that only code
/// on that queue touches. One buffer per queue, not per connection, keeps idle connections small.
final class IOQueue: @unchecked Sendable {
    // `scratch` is only read and written by code running on `queue` (serial): see `Connection.readable`.
    let queue: DispatchQueue
    let scratch: UnsafeMutableRawBufferPointer

    init(label: String) {
        queue = DispatchQueue(label: label)
        scratch = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        scratch.deallocate()
    }
}
