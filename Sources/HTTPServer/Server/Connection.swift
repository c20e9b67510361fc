#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import QueueExecutor

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

    enum TimerKind {
        case none, idle, head, body, write, linger
    }

    let id: Int
    let fd: Int32
    let remoteAddress: String
    let io: IOQueue
    let context: ServerContext

    var readSource: (any DispatchSourceRead)?
    var writeSource: (any DispatchSourceWrite)?
    var writeSourceResumed = false
    var readPaused = false
    var openSources = 0
    /// Made in `startOnQueue`: a Dispatch source released while never resumed traps, and a
    /// connection refused at the cap is released without ever starting.
    var timer: (any DispatchSourceTimer)?
    var timerKind: TimerKind = .none
    /// When the current timer kind runs out, and when the Dispatch timer is set to fire (uptime
    /// nanoseconds; `.max`: never). See `arm`.
    var deadline: UInt64 = .max
    var scheduledFire: UInt64 = .max

    var inbound: [UInt8] = []
    var readIndex = 0
    var parser: RequestParser
    var body: [UInt8] = []
    /// Bytes of the server's request-body budget this connection holds (see `beginBody`).
    var bodyBytesReserved = 0
    /// The current request came with a body that nobody will read: answer, then close.
    var bodyLeftUnread = false
    var trailers = HTTPFields()
    var phase: Phase = .awaitingHead
    var requestsServed = 0

    var outbound: [UInt8] = []
    var outboundIndex = 0
    var writeWaiter: CheckedContinuation<Void, any Error>?
    var streamFraming: ResponseFraming = .chunked
    var currentKeepAlive = true
    var draining = false

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

    func startOnQueue() {
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
    func close() {
        assertOnQueue()
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
        releaseBody()
        context.connectionClosed(self)
    }

    func sourceCancelled() {
        openSources -= 1
        if openSources == 0 { Glibc.close(fd) }
    }

    /// Checks, in debug builds, the confinement that `@unchecked Sendable` relies on.
    @inline(__always)
    func assertOnQueue() {
        #if DEBUG
        dispatchPrecondition(condition: .onQueue(io.queue))
        #endif
    }

    // MARK: - Reading

    func readable() {
        assertOnQueue()
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

    func pauseReading() {
        guard !readPaused, let readSource else { return }
        readPaused = true
        readSource.suspend()
    }

    func resumeReading() {
        guard readPaused, let readSource else { return }
        readPaused = false
        readSource.resume()
    }

    /// Feeds buffered bytes to the parser until a request is complete or more bytes are needed.
    func process() {
        assertOnQueue()
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
                if body.count + slice.count > bodyBytesReserved {
                    // Chunked: the budget is taken as the bytes arrive.
                    let more = body.count + slice.count - bodyBytesReserved
                    guard context.reserveBodyBytes(more) else {
                        rejectBusy()
                        return
                    }
                    bodyBytesReserved += more
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
    ///
    /// A request whose route takes no body (limit 0) is answered at once without reading the
    /// body it came with, and the connection closes after the answer. A body that would take
    /// the server past its budget of body bytes in flight is refused with 503.
    func beginBody(_ head: RequestHead) -> Bool {
        body = []
        trailers = HTTPFields()
        bodyLeftUnread = false
        switch head.framing {
        case .none, .length(0):
            phase = .readingBody(head, limit: 0)
            return true
        case .length(let n):
            let limit = context.responder.bodyLimit(for: head)
            if limit == 0 { return answerWithoutBody(head) }
            guard n <= limit else {
                reject(.contentTooLarge, detail: "request body of \(n) bytes is larger than the limit of \(limit) bytes")
                return false
            }
            guard context.reserveBodyBytes(n) else {
                rejectBusy()
                return false
            }
            bodyBytesReserved = n
            phase = .readingBody(head, limit: limit)
            body.reserveCapacity(n)
        case .chunked:
            let limit = context.responder.bodyLimit(for: head)
            if limit == 0 { return answerWithoutBody(head) }
            phase = .readingBody(head, limit: limit)
        }
        if head.expectsContinue {
            outbound.append(contentsOf: "HTTP/1.1 100 Continue\r\n\r\n".utf8)
            flush()
        }
        arm(.body, context.configuration.bodyTimeout)
        return true
    }

    /// Hands the request to the responder with an empty body; the body it came with stays
    /// unread and the connection closes after the answer (its bytes cannot be told from the
    /// next request's without reading them).
    func answerWithoutBody(_ head: RequestHead) -> Bool {
        bodyLeftUnread = true
        phase = .readingBody(head, limit: 0)
        dispatchRequest()
        return false
    }

    /// 503 for a body the server has no room for now.
    func rejectBusy() {
        context.logger.warning("request body refused: too many body bytes in flight", metadata: ["parley.limit": "\(context.configuration.maxBodyBytesInFlight)"])
        reject(.serviceUnavailable, detail: "the server is receiving too many request bodies; retry shortly", retryAfter: 1)
    }

    func releaseBody() {
        context.releaseBodyBytes(bodyBytesReserved)
        bodyBytesReserved = 0
    }

    func compactInbound() {
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

    func dispatchRequest() {
        guard case .readingBody(let head, _) = phase else { return }
        disarm()
        let request = Request(
            method: head.method, target: head.target, version: head.version, headers: head.headers,
            body: body, trailers: trailers, remoteAddress: remoteAddress
        )
        body = []
        releaseBody()
        trailers = HTTPFields()
        let responder = context.responder
        // The task cannot get back onto this queue before this function returns, so the
        // phase is set before anything the task does can look at it.
        phase = .handling(Task {
            let response = await responder.respond(to: request)
            await self.send(response, for: head)
        })
    }

    // MARK: - Timeouts

    /// Arms a timeout lazily: rescheduling a Dispatch timer goes through Dispatch's manager
    /// thread, and a keep-alive connection would do it three times a request (head, handling,
    /// idle). Only a deadline earlier than the timer's next firing reschedules it; a later one
    /// is noted, and the firing timer finds it and waits the rest (`timerFired`).
    func arm(_ kind: TimerKind, _ after: Duration) {
        timerKind = kind
        let (sum, overflow) = DispatchTime.now().uptimeNanoseconds.addingReportingOverflow(UInt64(max(0, after.dispatchNanoseconds)))
        deadline = overflow ? .max : sum
        if deadline < scheduledFire { schedule(at: deadline) }
    }

    /// No timeout while a request is handled; a timer still set fires once and finds nothing to do.
    func disarm() {
        timerKind = .none
        deadline = .max
    }

    private func schedule(at uptime: UInt64) {
        scheduledFire = uptime
        timer?.schedule(deadline: DispatchTime(uptimeNanoseconds: uptime), leeway: .milliseconds(50))
    }

    func rearmAfterWrite() {
        switch phase {
        case .awaitingHead: arm(.idle, context.idleTimeout)
        case .closing: arm(.linger, .seconds(2))
        default: disarm()
        }
    }

    func timerFired() {
        scheduledFire = .max
        guard timerKind != .none else { return }
        // The deadline moved on since the timer was set: wait the rest.
        if DispatchTime.now().uptimeNanoseconds < deadline {
            schedule(at: deadline)
            return
        }
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
    /// The queue as a task executor: a streamed body's producer runs there (see `Connection.send`).
    let executor: DispatchQueueTaskExecutor
    private static let key = DispatchSpecificKey<ObjectIdentifier>()

    init(label: String) {
        queue = DispatchQueue(label: label)
        scratch = .allocate(byteCount: 64 * 1024, alignment: 16)
        executor = DispatchQueueTaskExecutor(queue: queue)
        queue.setSpecific(key: Self.key, value: ObjectIdentifier(self))
    }

    /// Whether the caller runs on this queue.
    var isCurrent: Bool { DispatchQueue.getSpecific(key: Self.key) == ObjectIdentifier(self) }

    deinit {
        scratch.deallocate()
    }
}
